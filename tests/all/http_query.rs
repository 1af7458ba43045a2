//! HTTP tests of the query routes (contract section 4).
