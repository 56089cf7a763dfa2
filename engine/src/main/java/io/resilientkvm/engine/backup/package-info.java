/**
 * The backup manifest shared by the exporter (which writes it) and the importer (which reads it).
 */
package io.resilientkvm.engine.backup;
