// Package auditid is the one spelling of audit entry IDs shared by the
// store backends: the entry's integer key as a decimal string. Keeping it
// in one place means both backends accept and refuse the same cursors.
//
// Entry points: Format (key → ID) and Before (the before cursor → an
// exclusive upper bound on keys). Both are pure functions, safe for
// concurrent use.
package auditid
