package dyag

/*
#include <stdint.h>
#include "dyag.h"

extern _Bool goEvalCallback(size_t done, size_t total, uintptr_t state);

static bool dyag_go_on_question(size_t done, size_t total, void *state) {
	return goEvalCallback(done, total, (uintptr_t)state);
}

static DyagStatus dyag_go_evaluate(DyagModel m, const char *questions, const char *output, const DyagEvalParams *p,
                                   uintptr_t state, DyagEvalSummary *summary) {
	return dyag_evaluate(m, questions, output, p, dyag_go_on_question, (void *)state, summary);
}
*/
import "C"

import (
	"context"
	"runtime/cgo"
)

// EvalParams say how to evaluate; start from DefaultEvalParams.
type EvalParams struct {
	Sampling SamplingParams
	// SystemPrompt is sent before each question; nil means the default
	// (generate-training's), a pointer to "" means none.
	SystemPrompt *string
}

// DefaultEvalParams are dyag evaluate-finetuned's: greedy, 256 tokens, the default system prompt.
func DefaultEvalParams() EvalParams {
	p := C.dyag_eval_default_params()
	s := p.sampling
	return EvalParams{Sampling: SamplingParams{Temperature: float32(s.temperature), TopK: int(s.top_k), TopP: float32(s.top_p), MaxTokens: int(s.max_tokens), Seed: uint64(s.seed)}}
}

// EvalSummary holds the whole-run figures; those that could not be measured are NaN.
type EvalSummary struct {
	Questions, Successes, Errors                  int
	SuccessRate, ExactMatchRate, KeywordRecall    float64
	F1, RougeL, BLEU, CorpusBLEU                  float64
	MeanLatencyMs, MeanFirstTokenMs, TokensPerSec float64
	PromptTokens, CompletionTokens                uint64
}

type evalState struct {
	callbackGuard
	onQuestion func(done, total int) bool
}

//export goEvalCallback
func goEvalCallback(done, total C.size_t, state C.uintptr_t) C.bool {
	s := cgo.Handle(state).Value().(*evalState)
	return C.bool(s.run(func() bool { return s.onQuestion == nil || s.onQuestion(int(done), int(total)) }))
}

// Evaluate answers every question of a questions file (JSONL: {"question",
// "expected"?, "keywords"?, "id"?} per line) with the model and its attached
// adapter, scores the answers and, when outputPath is not "", writes the
// results file (docs/results-schema.md). onQuestion, if not nil, is called
// before each question; returning false cancels (ErrCancelled), as does
// cancelling ctx (the error then also matches ctx.Err()).
func (m *Model) Evaluate(ctx context.Context, questionsPath, outputPath string, params EvalParams, onQuestion func(done, total int) bool) (*EvalSummary, error) {
	if err := ctx.Err(); err != nil {
		return nil, cancelled("evaluation", err)
	}
	var cs cStrings
	defer cs.free()
	q, err := cs.add(questionsPath, "questionsPath")
	if err != nil {
		return nil, err
	}
	out, err := cs.addOptional(outputPath, "outputPath")
	if err != nil {
		return nil, err
	}
	p := C.dyag_eval_default_params()
	if p.sampling, err = params.Sampling.c(); err != nil {
		return nil, err
	}
	if params.SystemPrompt != nil {
		// "" must reach dyag as "" (no system prompt), not as NULL (the default).
		if p.system_prompt, err = cs.add(*params.SystemPrompt, "SystemPrompt"); err != nil {
			return nil, err
		}
	}
	state := &evalState{callbackGuard: callbackGuard{ctx: ctx}, onQuestion: onQuestion}
	handle := cgo.NewHandle(state)
	defer handle.Delete()
	var s C.DyagEvalSummary
	err = m.do(func(h C.DyagModel) C.DyagStatus { return C.dyag_go_evaluate(h, q, out, &p, C.uintptr_t(handle), &s) })
	state.repanic()
	if err != nil {
		if state.ctxErr != nil && isStatus(err, StatusCancelled) {
			return nil, cancelled("evaluation", state.ctxErr)
		}
		return nil, err
	}
	return &EvalSummary{
		Questions: int(s.questions), Successes: int(s.successes), Errors: int(s.errors),
		SuccessRate: float64(s.success_rate), ExactMatchRate: float64(s.exact_match_rate), KeywordRecall: float64(s.mean_keyword_recall),
		F1: float64(s.mean_f1), RougeL: float64(s.mean_rouge_l), BLEU: float64(s.mean_bleu), CorpusBLEU: float64(s.corpus_bleu),
		MeanLatencyMs: float64(s.mean_latency_ms), MeanFirstTokenMs: float64(s.mean_first_token_ms), TokensPerSec: float64(s.tokens_per_second),
		PromptTokens: uint64(s.prompt_tokens), CompletionTokens: uint64(s.completion_tokens),
	}, nil
}
