/**
 * picocli commands behind bin/ and the node agent.
 */
package io.resilientkvm.cli;
