package store

import "github.com/google/uuid"

// NewID returns a new fender id: a UUIDv7 in its canonical text form, so ids
// sort by creation time (within one process also by creation order).
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system random source does.
		panic("store: uuid: " + err.Error())
	}
	return id.String()
}
