/**
 * End-to-end test support.
 */
package io.resilientkvm.it;
