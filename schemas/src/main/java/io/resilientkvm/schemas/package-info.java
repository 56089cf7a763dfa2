/**
 * JSON Schemas (instance, resilient, node configuration, backup manifest) and the validator that reports every violation by parameter.
 */
package io.resilientkvm.schemas;
