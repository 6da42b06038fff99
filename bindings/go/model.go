package dyag

/*
#include <stdlib.h>
#include "dyag.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// Device says where a model's work runs.
type Device int32

const (
	// DeviceAuto is the best device this build can use (today the CPU).
	DeviceAuto Device = C.DYAG_DEVICE_AUTO
	DeviceCPU  Device = C.DYAG_DEVICE_CPU
	// DeviceCUDA is refused with ErrDevice while the engine runs on the CPU only.
	DeviceCUDA Device = C.DYAG_DEVICE_CUDA
)

// Options say how to open a model. The zero value is the default: DeviceAuto,
// all cores (a pool shared by the models opened with Threads 0).
type Options struct {
	Device Device
	// Threads gives the model a pool of its own with this many threads.
	Threads int
}

func (o *Options) c() C.DyagModelOptions {
	opts := C.dyag_model_default_options()
	if o != nil {
		opts.device = C.int32_t(o.Device)
		opts.threads = C.uint32_t(o.Threads)
	}
	return opts
}

// Model is an open model: a base model and, optionally, an attached LoRA
// adapter. Its methods may be called from several goroutines at once.
type Model struct {
	mu sync.RWMutex // guards h
	h  C.DyagModel
}

func newModel(h C.DyagModel) *Model {
	m := &Model{h: h}
	runtime.SetFinalizer(m, (*Model).Close)
	return m
}

// handle is the handle to use for a call (the null handle once closed: dyag
// then answers ErrInvalidHandle).
func (m *Model) handle() C.DyagModel {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.h
}

// do runs one call on the model's handle. Closing the model meanwhile (or
// its finalizer) is safe: dyag keeps the model alive until the call returns.
func (m *Model) do(f func(h C.DyagModel) C.DyagStatus) error {
	h := m.handle()
	err := call(func() C.DyagStatus { return f(h) })
	runtime.KeepAlive(m)
	return err
}

// Open opens a base model: a name ("gemma3:270m", "qwen2.5:0.5b"...), a
// Hugging Face repository id, a .gguf file or a Hugging Face model folder.
// opts may be nil.
func Open(model string, opts *Options) (*Model, error) {
	var cs cStrings
	defer cs.free()
	name, err := cs.add(model, "model")
	if err != nil {
		return nil, err
	}
	o := opts.c()
	var h C.DyagModel
	if err := call(func() C.DyagStatus { return C.dyag_model_open(name, &o, &h) }); err != nil {
		return nil, err
	}
	return newModel(h), nil
}

// OpenFinetuned opens a LoRA adapter folder with its base model: baseModel,
// or when empty the base named in the adapter's adapter_config.json.
func OpenFinetuned(adapterDir, baseModel string, opts *Options) (*Model, error) {
	var cs cStrings
	defer cs.free()
	dir, err := cs.add(adapterDir, "adapterDir")
	if err != nil {
		return nil, err
	}
	base, err := cs.addOptional(baseModel, "baseModel")
	if err != nil {
		return nil, err
	}
	o := opts.c()
	var h C.DyagModel
	if err := call(func() C.DyagStatus { return C.dyag_model_open_finetuned(dir, base, &o, &h) }); err != nil {
		return nil, err
	}
	return newModel(h), nil
}

// Close frees the model. Calls running in other goroutines finish first;
// later calls fail with ErrInvalidHandle. Closing twice is harmless.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h.id == 0 {
		return nil
	}
	h := m.h
	m.h = C.DyagModel{}
	runtime.SetFinalizer(m, nil)
	return call(func() C.DyagStatus { return C.dyag_model_free(h) })
}

// LoadAdapter attaches the LoRA adapter in dir (PEFT layout), replacing the
// one attached before; its matrices are checked against the model.
func (m *Model) LoadAdapter(dir string) error {
	var cs cStrings
	defer cs.free()
	d, err := cs.add(dir, "dir")
	if err != nil {
		return err
	}
	return m.do(func(h C.DyagModel) C.DyagStatus { return C.dyag_model_load_adapter(h, d) })
}

// SetAdapter attaches an adapter trained on this model by Train.
func (m *Model) SetAdapter(a *Adapter) error {
	ah := a.handle()
	err := m.do(func(h C.DyagModel) C.DyagStatus { return C.dyag_model_set_adapter(h, ah) })
	runtime.KeepAlive(a)
	return err
}

// RemoveAdapter detaches the adapter: the model answers as its base again.
func (m *Model) RemoveAdapter() error {
	return m.do(func(h C.DyagModel) C.DyagStatus { return C.dyag_model_remove_adapter(h) })
}

// Describe is a one-line description ("gemma3:270m + LoRA /path").
func (m *Model) Describe() (string, error) {
	var needed C.size_t
	err := m.do(func(h C.DyagModel) C.DyagStatus { return C.dyag_model_describe(h, nil, 0, &needed) })
	if err != nil && !isStatus(err, StatusBufferTooSmall) {
		return "", err
	}
	buf := (*C.char)(C.malloc(needed + 1))
	defer C.free(unsafe.Pointer(buf))
	if err := m.do(func(h C.DyagModel) C.DyagStatus { return C.dyag_model_describe(h, buf, needed+1, nil) }); err != nil {
		return "", err
	}
	return C.GoString(buf), nil
}

func isStatus(err error, s Status) bool {
	e, ok := err.(*Error)
	return ok && e.Status == s
}
