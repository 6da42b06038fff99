package dyag

/*
#include <stdint.h>
#include "dyag.h"

extern _Bool goProgressCallback(DyagTrainProgress *progress, uintptr_t state);

static bool dyag_go_on_progress(const DyagTrainProgress *progress, void *state) {
	return goProgressCallback((DyagTrainProgress *)progress, (uintptr_t)state);
}

static DyagStatus dyag_go_train(DyagModel m, const char *dataset, const char *output, const DyagTrainParams *p,
                                uintptr_t state, DyagAdapter *out, DyagTrainSummary *summary) {
	return dyag_train(m, dataset, output, p, dyag_go_on_progress, (void *)state, out, summary);
}
*/
import "C"

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"time"
)

// LRScheduler is the decay after the warm-up.
type LRScheduler int32

const (
	LRCosine   LRScheduler = C.DYAG_LR_SCHEDULER_COSINE
	LRLinear   LRScheduler = C.DYAG_LR_SCHEDULER_LINEAR
	LRConstant LRScheduler = C.DYAG_LR_SCHEDULER_CONSTANT
)

// TrainParams are `dyag finetune`'s options; start from DefaultTrainParams.
type TrainParams struct {
	Epochs               int
	BatchSize            int
	GradientAccumulation int
	LoRARank             int
	LoRAAlpha            float32
	LoRADropout          float32
	UseRSLoRA            bool
	// TargetModules names the projections to adapt ("q_proj", "v_proj"...); empty: every linear layer.
	TargetModules         []string
	LR                    float64
	WarmupRatio           float64
	LRScheduler           LRScheduler
	WeightDecay           float64
	MaxGradNorm           float64
	MaxSeqLen             int
	Seed                  uint64
	GradientCheckpointing bool
	// SaveSteps also writes a checkpoint every N steps (0: at each epoch's end only).
	SaveSteps int
	// ValDataset is a validation set (chat JSONL), "" for none.
	ValDataset string
	// ResumeFromCheckpoint is a checkpoint folder to continue from, "" to start afresh.
	ResumeFromCheckpoint string
}

// DefaultTrainParams are dyag finetune's defaults (3 epochs, batch 4, LoRA r 16 / alpha 32, lr 5e-4...).
func DefaultTrainParams() TrainParams {
	p := C.dyag_train_default_params()
	return TrainParams{
		Epochs: int(p.epochs), BatchSize: int(p.batch_size), GradientAccumulation: int(p.gradient_accumulation),
		LoRARank: int(p.lora_rank), LoRAAlpha: float32(p.lora_alpha), LoRADropout: float32(p.lora_dropout), UseRSLoRA: bool(p.use_rslora),
		LR: float64(p.lr), WarmupRatio: float64(p.warmup_ratio), LRScheduler: LRScheduler(p.lr_scheduler),
		WeightDecay: float64(p.weight_decay), MaxGradNorm: float64(p.max_grad_norm), MaxSeqLen: int(p.max_seq_len),
		Seed: uint64(p.seed), GradientCheckpointing: bool(p.gradient_checkpointing), SaveSteps: int(p.save_steps),
	}
}

func u32(v int, name string) (C.uint32_t, error) {
	if v < 0 || v > math.MaxUint32 {
		return 0, &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf("%s %d is out of range", name, v)}
	}
	return C.uint32_t(v), nil
}

func (p *TrainParams) c(cs *cStrings) (C.DyagTrainParams, error) {
	out := C.dyag_train_default_params()
	var err error
	for _, f := range []struct {
		dst  *C.uint32_t
		v    int
		name string
	}{
		{&out.epochs, p.Epochs, "Epochs"}, {&out.batch_size, p.BatchSize, "BatchSize"},
		{&out.gradient_accumulation, p.GradientAccumulation, "GradientAccumulation"}, {&out.lora_rank, p.LoRARank, "LoRARank"},
		{&out.max_seq_len, p.MaxSeqLen, "MaxSeqLen"}, {&out.save_steps, p.SaveSteps, "SaveSteps"},
	} {
		if *f.dst, err = u32(f.v, f.name); err != nil {
			return out, err
		}
	}
	out.lora_alpha = C.float(p.LoRAAlpha)
	out.lora_dropout = C.float(p.LoRADropout)
	out.use_rslora = C.bool(p.UseRSLoRA)
	out.lr = C.double(p.LR)
	out.warmup_ratio = C.double(p.WarmupRatio)
	out.lr_scheduler = C.int32_t(p.LRScheduler)
	out.weight_decay = C.double(p.WeightDecay)
	out.max_grad_norm = C.double(p.MaxGradNorm)
	out.seed = C.uint64_t(p.Seed)
	out.gradient_checkpointing = C.bool(p.GradientCheckpointing)
	if out.target_modules, err = cs.addOptional(strings.Join(p.TargetModules, ","), "TargetModules"); err != nil {
		return out, err
	}
	if out.val_dataset, err = cs.addOptional(p.ValDataset, "ValDataset"); err != nil {
		return out, err
	}
	if out.resume_from_checkpoint, err = cs.addOptional(p.ResumeFromCheckpoint, "ResumeFromCheckpoint"); err != nil {
		return out, err
	}
	return out, nil
}

// TrainProgress is reported after every optimiser step.
type TrainProgress struct {
	Step, TotalSteps, Epoch int
	Loss, LR                float64
	GradNorm                float32
	TokensPerSecond         float64
	Elapsed                 time.Duration
	// Checkpoint is the folder written after this step, or "".
	Checkpoint string
}

// TrainSummary holds the figures of a finished training.
type TrainSummary struct {
	Runtime                                         time.Duration
	Epochs, GlobalSteps                             int
	TrainLoss, MeanTokenAccuracy                    float64
	FirstStepLoss, LastStepLoss                     float64
	FinalValLoss                                    float64 // NaN without a validation set
	SamplesPerSecond, TokensPerSecond               float64
	NumTokens                                       uint64
	NumExamples, TruncatedExamples, DroppedExamples int
	TrainableParameters                             int
}

type progressState struct {
	callbackGuard
	onProgress func(TrainProgress) bool
}

//export goProgressCallback
func goProgressCallback(p *C.DyagTrainProgress, state C.uintptr_t) C.bool {
	s := cgo.Handle(state).Value().(*progressState)
	return C.bool(s.run(func() bool { return s.onProgress == nil || s.onProgress(trainProgress(p)) }))
}

// trainProgress converts dyag's progress report (valid during the callback only).
func trainProgress(p *C.DyagTrainProgress) TrainProgress {
	tp := TrainProgress{
		Step: int(p.step), TotalSteps: int(p.total_steps), Epoch: int(p.epoch), Loss: float64(p.loss), LR: float64(p.lr),
		GradNorm: float32(p.grad_norm), TokensPerSecond: float64(p.tokens_per_second),
		Elapsed: time.Duration(float64(p.elapsed_seconds) * float64(time.Second)),
	}
	if p.checkpoint != nil {
		tp.Checkpoint = C.GoString(p.checkpoint)
	}
	return tp
}

// Train trains a LoRA adapter on the model's base with a chat dataset
// (JSONL), writing checkpoints under outputDir. onProgress, if not nil, is
// called after every step; returning false cancels (ErrCancelled).
// Cancelling ctx stops the training after the step in progress, with an
// error matching both ErrCancelled and ctx.Err(). Checkpoints already
// written stay.
func (m *Model) Train(ctx context.Context, dataset, outputDir string, params TrainParams, onProgress func(TrainProgress) bool) (*Adapter, *TrainSummary, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, cancelled("training", err)
	}
	var cs cStrings
	defer cs.free()
	ds, err := cs.add(dataset, "dataset")
	if err != nil {
		return nil, nil, err
	}
	out, err := cs.add(outputDir, "outputDir")
	if err != nil {
		return nil, nil, err
	}
	p, err := params.c(&cs)
	if err != nil {
		return nil, nil, err
	}
	state := &progressState{callbackGuard: callbackGuard{ctx: ctx}, onProgress: onProgress}
	handle := cgo.NewHandle(state)
	defer handle.Delete()
	var a C.DyagAdapter
	var s C.DyagTrainSummary
	err = m.do(func(h C.DyagModel) C.DyagStatus {
		return C.dyag_go_train(h, ds, out, &p, C.uintptr_t(handle), &a, &s)
	})
	state.repanic()
	if err != nil {
		if state.ctxErr != nil && isStatus(err, StatusCancelled) {
			return nil, nil, cancelled("training", state.ctxErr)
		}
		return nil, nil, err
	}
	sum := &TrainSummary{
		Runtime: time.Duration(float64(s.train_runtime_seconds) * float64(time.Second)),
		Epochs:  int(s.epochs), GlobalSteps: int(s.global_steps), TrainLoss: float64(s.train_loss),
		MeanTokenAccuracy: float64(s.mean_token_accuracy), FirstStepLoss: float64(s.first_step_loss),
		LastStepLoss: float64(s.last_step_loss), FinalValLoss: float64(s.final_val_loss),
		SamplesPerSecond: float64(s.train_samples_per_second), TokensPerSecond: float64(s.train_tokens_per_second),
		NumTokens: uint64(s.num_tokens), NumExamples: int(s.num_examples), TruncatedExamples: int(s.truncated_examples),
		DroppedExamples: int(s.dropped_examples), TrainableParameters: int(s.trainable_parameters),
	}
	return newAdapter(a), sum, nil
}

// Adapter is a LoRA adapter trained by Train.
type Adapter struct {
	mu sync.RWMutex
	h  C.DyagAdapter
}

func newAdapter(h C.DyagAdapter) *Adapter {
	a := &Adapter{h: h}
	runtime.SetFinalizer(a, (*Adapter).Close)
	return a
}

func (a *Adapter) handle() C.DyagAdapter {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.h
}

// Save writes the adapter as a PEFT folder (adapter_config.json,
// adapter_model.safetensors and the base model's tokenizer files), loadable
// by LoadAdapter, OpenFinetuned, `dyag query-finetuned --model` and Python PEFT.
func (a *Adapter) Save(dir string) error {
	var cs cStrings
	defer cs.free()
	d, err := cs.add(dir, "dir")
	if err != nil {
		return err
	}
	h := a.handle()
	err = call(func() C.DyagStatus { return C.dyag_adapter_save(h, d) })
	runtime.KeepAlive(a)
	return err
}

// Close frees the adapter (models it was attached to keep their copy).
// Closing twice is harmless.
func (a *Adapter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.h.id == 0 {
		return nil
	}
	h := a.h
	a.h = C.DyagAdapter{}
	runtime.SetFinalizer(a, nil)
	return call(func() C.DyagStatus { return C.dyag_adapter_free(h) })
}
