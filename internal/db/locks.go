package db

import "github.com/pressly/goose/v3/lock"

// Advisory locks. Every advisory-lock key tiersync takes is defined here, once, so that
// two uses can never pick the same key by accident. PostgreSQL keeps the one-key form
// (pg_advisory_lock(bigint)) and the two-key form (pg_advisory_lock(int, int)) apart, and
// both per database; within each form the keys below must stay distinct.
const (
	// LockMigrations (one key) is held by goose while it applies migrations, so that
	// replicas starting together migrate one at a time. It is goose's own default, named
	// here so that nothing else takes it.
	LockMigrations int64 = lock.DefaultLockID

	// LockTestTemplate (one key, "tiersync" in ASCII) is held by dbtest while one test
	// process builds the migrated template database that every test clones.
	LockTestTemplate int64 = 0x7469657273796e63
)
