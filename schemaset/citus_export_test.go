package schemaset

// ApplyLockKeyForTest is the advisory lock an apply holds, for tests that stand in for an apply.
const ApplyLockKeyForTest = applyLockKey
