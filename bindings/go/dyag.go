// Package dyag is the Go binding of dyag's C API (include/dyag.h): open a
// model, attach LoRA adapters, generate text with streaming, train an adapter
// with progress and context cancellation, save it.
//
// It links the lean static library libdyag.a that scripts/build-lib.sh
// builds (no CLI dependencies). By default it looks in ../../target/debug/lean
// (the optimised dev profile); for another folder (a release build, an
// install) set CGO_LDFLAGS=-L/path/to/dir before `go build`.
//
// Every function that can fail returns an *Error carrying dyag's status and
// message; compare with errors.Is(err, dyag.ErrInvalidHandle) and the other
// Err* values. Models and adapters must be closed (Close); a finalizer frees
// the ones that are forgotten. All methods are safe for concurrent use.
package dyag

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/debug/lean -l:libdyag.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
#include <stdlib.h>
#include "dyag.h"
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"unsafe"
)

// Version is the version of the linked dyag library.
func Version() string {
	return C.GoString(C.dyag_version())
}

// Status is a dyag status code (DYAG_STATUS_* in dyag.h).
type Status int32

const (
	StatusOK              Status = C.DYAG_STATUS_OK
	StatusNullPointer     Status = C.DYAG_STATUS_NULL_POINTER
	StatusInvalidHandle   Status = C.DYAG_STATUS_INVALID_HANDLE
	StatusInvalidUTF8     Status = C.DYAG_STATUS_INVALID_UTF8
	StatusInvalidArgument Status = C.DYAG_STATUS_INVALID_ARGUMENT
	StatusIO              Status = C.DYAG_STATUS_IO
	StatusFormat          Status = C.DYAG_STATUS_FORMAT
	StatusData            Status = C.DYAG_STATUS_DATA
	StatusModelNotFound   Status = C.DYAG_STATUS_MODEL_NOT_FOUND
	StatusDevice          Status = C.DYAG_STATUS_DEVICE
	StatusCancelled       Status = C.DYAG_STATUS_CANCELLED
	StatusBufferTooSmall  Status = C.DYAG_STATUS_BUFFER_TOO_SMALL
	StatusInternal        Status = C.DYAG_STATUS_INTERNAL
	StatusOther           Status = C.DYAG_STATUS_OTHER
)

// String is the status's name in dyag.h ("DYAG_STATUS_INVALID_HANDLE").
func (s Status) String() string {
	return C.GoString(C.dyag_status_name(C.int32_t(s)))
}

// Error is a failed dyag call: its status and dyag's message.
type Error struct {
	Status  Status
	Message string
	// cause is what made the Go side stop a call (a context's error).
	cause error
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "dyag: " + e.Status.String()
	}
	return "dyag: " + e.Message
}

// Is makes errors.Is(err, dyag.ErrCancelled) and the like compare statuses.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.cause == nil && t.Status == e.Status
}

// Unwrap gives the context error behind a cancellation, if any.
func (e *Error) Unwrap() error { return e.cause }

// Sentinel errors, one per status, for errors.Is.
var (
	ErrNullPointer     = &Error{Status: StatusNullPointer}
	ErrInvalidHandle   = &Error{Status: StatusInvalidHandle}
	ErrInvalidUTF8     = &Error{Status: StatusInvalidUTF8}
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
	ErrIO              = &Error{Status: StatusIO}
	ErrFormat          = &Error{Status: StatusFormat}
	ErrData            = &Error{Status: StatusData}
	ErrModelNotFound   = &Error{Status: StatusModelNotFound}
	ErrDevice          = &Error{Status: StatusDevice}
	ErrCancelled       = &Error{Status: StatusCancelled}
	ErrBufferTooSmall  = &Error{Status: StatusBufferTooSmall}
	ErrInternal        = &Error{Status: StatusInternal}
	ErrOther           = &Error{Status: StatusOther}
)

// call runs one C call and turns its status into an error. dyag keeps the
// last error message per OS thread, so the goroutine stays on its thread
// from the call to the reading of the message.
func call(f func() C.DyagStatus) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := Status(f())
	if s == StatusOK {
		return nil
	}
	return &Error{Status: s, Message: C.GoString(C.dyag_last_error())}
}

// callbackGuard is the part of every callback's state that stops a call:
// the caller's context, the context error that stopped it, and a panic of
// the user's callback, kept to be re-raised once dyag has returned (a panic
// must not unwind through dyag's frames).
type callbackGuard struct {
	ctx    context.Context
	ctxErr error
	panic  interface{}
}

// run calls the user's callback f from a C callback: false (stop) once the
// context is done, and false with the panic kept if f panics.
func (g *callbackGuard) run(f func() bool) (goOn bool) {
	defer func() {
		if r := recover(); r != nil {
			g.panic = r
			goOn = false
		}
	}()
	if err := g.ctx.Err(); err != nil {
		g.ctxErr = err
		return false
	}
	return f()
}

// repanic re-raises the user's panic, if the callback kept one.
func (g *callbackGuard) repanic() {
	if g.panic != nil {
		panic(g.panic)
	}
}

// cancelled is the error of a call stopped by a context: it matches both
// ErrCancelled and the context's error.
func cancelled(what string, cause error) *Error {
	return &Error{Status: StatusCancelled, Message: what + " cancelled: " + cause.Error(), cause: cause}
}

// cStrings holds C copies of Go strings until free is called.
type cStrings struct{ ptrs []unsafe.Pointer }

// add copies s to C memory. A NUL byte cannot cross as a C string: it is
// refused here rather than silently cutting the string.
func (c *cStrings) add(s, what string) (*C.char, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf("%s contains a NUL byte at offset %d", what, i)}
	}
	p := C.CString(s)
	c.ptrs = append(c.ptrs, unsafe.Pointer(p))
	return p, nil
}

// addOptional is add, with "" as NULL.
func (c *cStrings) addOptional(s, what string) (*C.char, error) {
	if s == "" {
		return nil, nil
	}
	return c.add(s, what)
}

func (c *cStrings) free() {
	for _, p := range c.ptrs {
		C.free(p)
	}
	c.ptrs = nil
}
