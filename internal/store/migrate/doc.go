// Package migrate reads the numbered SQL migrations a store driver embeds.
//
// Files are named NNNN_description.sql (0001_init.sql, 0002_jobs.sql, …);
// the number is the schema version the file brings the database to. Each
// driver applies the missing versions in order inside its own transaction
// and records them in its schema_migrations table.
package migrate
