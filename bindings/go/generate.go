package dyag

/*
#include <stdint.h>
#include <stdlib.h>
#include "dyag.h"

extern _Bool goTokenCallback(char *piece, size_t len, uintptr_t state);

static bool dyag_go_on_token(const char *piece, size_t len, void *state) {
	return goTokenCallback((char *)piece, len, (uintptr_t)state);
}

// The callback state crosses as an integer (a cgo.Handle), never a Go pointer.
static DyagStatus dyag_go_generate_chat(DyagModel m, const DyagMessage *msgs, size_t n, const DyagSamplingParams *p,
                                        uintptr_t state, DyagGeneration *out) {
	return dyag_generate_chat(m, msgs, n, p, dyag_go_on_token, (void *)state, out);
}

static DyagStatus dyag_go_generate_text(DyagModel m, const char *prompt, const DyagSamplingParams *p,
                                        uintptr_t state, DyagGeneration *out) {
	return dyag_generate_text(m, prompt, p, dyag_go_on_token, (void *)state, out);
}
*/
import "C"

import (
	"context"
	"fmt"
	"runtime/cgo"
	"time"
	"unsafe"
)

// SamplingParams say how tokens are picked; start from DefaultSampling or Greedy.
type SamplingParams struct {
	// Temperature 0 is greedy.
	Temperature float32
	// TopK keeps the k most likely tokens; 0 is off.
	TopK int
	// TopP keeps the smallest set of tokens holding this probability, in (0, 1]; 1 is off.
	TopP float32
	// MaxTokens is the largest number of generated tokens (at least 1).
	MaxTokens int
	Seed      uint64
}

// DefaultSampling is the library's default (temperature 0.7, top_p 1, 500 tokens).
func DefaultSampling() SamplingParams {
	p := C.dyag_sampling_default_params()
	return SamplingParams{Temperature: float32(p.temperature), TopK: int(p.top_k), TopP: float32(p.top_p), MaxTokens: int(p.max_tokens), Seed: uint64(p.seed)}
}

// Greedy always picks the most likely token, up to maxTokens tokens.
func Greedy(maxTokens int) SamplingParams {
	p := DefaultSampling()
	p.Temperature = 0
	p.MaxTokens = maxTokens
	return p
}

func (p SamplingParams) c() (C.DyagSamplingParams, error) {
	if p.TopK < 0 || p.MaxTokens < 0 || p.MaxTokens > 1<<31 || p.TopK > 1<<31 {
		return C.DyagSamplingParams{}, &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf("sampling TopK %d or MaxTokens %d out of range", p.TopK, p.MaxTokens)}
	}
	return C.DyagSamplingParams{temperature: C.float(p.Temperature), top_k: C.uint32_t(p.TopK), top_p: C.float(p.TopP), max_tokens: C.uint32_t(p.MaxTokens), seed: C.uint64_t(p.Seed)}, nil
}

// Message is one chat turn; Role is "system", "user" or "assistant".
type Message struct {
	Role, Content string
}

// StopReason says why a generation ended.
type StopReason int32

const (
	StopEOS       StopReason = C.DYAG_STOP_REASON_EOS
	StopLength    StopReason = C.DYAG_STOP_REASON_LENGTH
	StopCancelled StopReason = C.DYAG_STOP_REASON_CANCELLED
	// StopText: the answer ended without an end-of-turn token (a blank line
	// or a new question marker); the text stops before it.
	StopText StopReason = C.DYAG_STOP_REASON_STOP_TEXT
)

func (r StopReason) String() string {
	switch r {
	case StopEOS:
		return "eos"
	case StopLength:
		return "length"
	case StopCancelled:
		return "cancelled"
	case StopText:
		return "stop_text"
	}
	return fmt.Sprintf("StopReason(%d)", int32(r))
}

// Generation is a finished answer.
type Generation struct {
	Text string
	// Tokens are the generated token ids (the prompt's are not included).
	Tokens           []uint32
	PromptTokens     int
	Stop             StopReason
	TimeToFirstToken time.Duration
	Total            time.Duration
}

// tokenState is what the C callback reaches through a cgo.Handle.
type tokenState struct {
	callbackGuard
	onToken func(piece string) bool
}

//export goTokenCallback
func goTokenCallback(piece *C.char, n C.size_t, state C.uintptr_t) C.bool {
	s := cgo.Handle(state).Value().(*tokenState)
	return C.bool(s.run(func() bool { return s.onToken == nil || s.onToken(C.GoStringN(piece, C.int(n))) }))
}

// generate runs one generation call with the streaming state, and builds the result.
func (m *Model) generate(ctx context.Context, params SamplingParams, onToken func(string) bool,
	run func(h C.DyagModel, p *C.DyagSamplingParams, state C.uintptr_t, out *C.DyagGeneration) C.DyagStatus) (*Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := params.c()
	if err != nil {
		return nil, err
	}
	state := &tokenState{callbackGuard: callbackGuard{ctx: ctx}, onToken: onToken}
	handle := cgo.NewHandle(state)
	defer handle.Delete()
	var out C.DyagGeneration
	err = m.do(func(h C.DyagModel) C.DyagStatus { return run(h, &p, C.uintptr_t(handle), &out) })
	defer C.dyag_generation_free(&out)
	state.repanic()
	if err != nil {
		return nil, err
	}
	if state.ctxErr != nil {
		return nil, cancelled("generation", state.ctxErr)
	}
	g := &Generation{
		PromptTokens:     int(out.prompt_tokens),
		Stop:             StopReason(out.stop_reason),
		TimeToFirstToken: time.Duration(float64(out.time_to_first_token_ms) * float64(time.Millisecond)),
		Total:            time.Duration(float64(out.total_ms) * float64(time.Millisecond)),
	}
	if out.text != nil {
		g.Text = C.GoStringN(out.text, C.int(out.text_len))
	}
	if out.n_tokens > 0 {
		ids := unsafe.Slice((*uint32)(unsafe.Pointer(out.tokens)), int(out.n_tokens))
		g.Tokens = append([]uint32(nil), ids...)
	}
	return g, nil
}

// Chat answers a conversation (through the model's chat template). onToken,
// if not nil, receives the text as it is generated; returning false stops
// the generation (Stop is then StopCancelled, and it is not an error).
// Cancelling ctx stops it too, with an error matching both ErrCancelled and
// ctx.Err().
func (m *Model) Chat(ctx context.Context, messages []Message, params SamplingParams, onToken func(piece string) bool) (*Generation, error) {
	var cs cStrings
	defer cs.free()
	if len(messages) == 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "no messages"}
	}
	// C memory: the array holds C pointers only.
	raw := C.malloc(C.size_t(len(messages)) * C.size_t(unsafe.Sizeof(C.DyagMessage{})))
	defer C.free(raw)
	msgs := unsafe.Slice((*C.DyagMessage)(raw), len(messages))
	for i, msg := range messages {
		role, err := cs.add(msg.Role, fmt.Sprintf("messages[%d].Role", i))
		if err != nil {
			return nil, err
		}
		content, err := cs.add(msg.Content, fmt.Sprintf("messages[%d].Content", i))
		if err != nil {
			return nil, err
		}
		msgs[i] = C.DyagMessage{role: role, content: content}
	}
	return m.generate(ctx, params, onToken, func(h C.DyagModel, p *C.DyagSamplingParams, state C.uintptr_t, out *C.DyagGeneration) C.DyagStatus {
		return C.dyag_go_generate_chat(h, &msgs[0], C.size_t(len(msgs)), p, state, out)
	})
}

// Complete continues raw text (no chat template), for base models.
func (m *Model) Complete(ctx context.Context, prompt string, params SamplingParams, onToken func(piece string) bool) (*Generation, error) {
	var cs cStrings
	defer cs.free()
	text, err := cs.add(prompt, "prompt")
	if err != nil {
		return nil, err
	}
	return m.generate(ctx, params, onToken, func(h C.DyagModel, p *C.DyagSamplingParams, state C.uintptr_t, out *C.DyagGeneration) C.DyagStatus {
		return C.dyag_go_generate_text(h, text, p, state, out)
	})
}
