package dyag

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The repository root and the vendored reference fixtures.
var (
	repoRoot    = filepath.Join("..", "..")
	fixturesDir = filepath.Join(repoRoot, "tests", "data", "fixtures")
	trainSet    = filepath.Join(repoRoot, "tests", "data", "capi", "train.jsonl")
)

// tinyModel assembles the tiny random Gemma 3 fixture (2 layers, hidden 64)
// with the 320-token fixture tokenizer as a Hugging Face folder.
func tinyModel(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny-gemma3")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"config.json":            filepath.Join(fixturesDir, "gemma3", "model", "config.json"),
		"model.safetensors":      filepath.Join(fixturesDir, "gemma3", "model", "model.safetensors"),
		"generation_config.json": filepath.Join(fixturesDir, "gemma3", "model", "generation_config.json"),
		"tokenizer.json":         filepath.Join(fixturesDir, "tokenizer", "tokenizer.json"),
	}
	for name, target := range links {
		abs, err := filepath.Abs(target)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("fixture missing (tests/data/fixtures): %v", err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func openTiny(t *testing.T) *Model {
	t.Helper()
	m, err := Open(tinyModel(t), &Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

var question = []Message{{Role: "user", Content: "Qui gère Kubi ?"}}

func expectStatus(t *testing.T, err error, want *Error, msgPart string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want status %v", err, want.Status)
	}
	if !strings.Contains(err.Error(), msgPart) {
		t.Fatalf("message %q does not contain %q", err.Error(), msgPart)
	}
}

func TestVersion(t *testing.T) {
	if Version() == "" {
		t.Fatal("empty version")
	}
}

// The real model through the Go binding gives the CLI's greedy tokens, one for one.
func TestGemmaMatchesTheCLI(t *testing.T) {
	cli := os.Getenv("DYAG_CLI")
	if cli == "" {
		cli = filepath.Join(repoRoot, "target", "debug", "dyag")
	}
	const system = "Tu es un assistant qui répond aux questions sur les applications de l'organisation."
	const q = "Qu'est-ce que Kubernetes ?"
	out, err := exec.Command(cli, "query-finetuned", "--base-model", "gemma3:270m", "--device", "cpu", "--temperature", "0",
		"--max-tokens", "24", "--system-prompt", system, "--json", q).Output()
	if err != nil {
		t.Fatalf("%s (build it with cargo build, or set DYAG_CLI): %v", cli, err)
	}
	var want struct {
		Answer       string   `json:"answer"`
		Tokens       []uint32 `json:"tokens"`
		PromptTokens int      `json:"prompt_tokens"`
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("CLI output %q: %v", out, err)
	}
	m, err := Open("gemma3:270m", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var streamed strings.Builder
	g, err := m.Chat(context.Background(), []Message{{"system", system}, {"user", q}}, Greedy(24), func(p string) bool {
		streamed.WriteString(p)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Tokens) == 0 || !equalTokens(g.Tokens, want.Tokens) {
		t.Fatalf("tokens differ:\n  Go  %v\n  CLI %v", g.Tokens, want.Tokens)
	}
	if g.Text != want.Answer || streamed.String() != g.Text || g.PromptTokens != want.PromptTokens {
		t.Fatalf("text %q, streamed %q, CLI %q; prompt tokens %d, CLI %d", g.Text, streamed.String(), want.Answer, g.PromptTokens, want.PromptTokens)
	}
	t.Logf("%d tokens equal to the CLI's: %q", len(g.Tokens), g.Text)
}

func equalTokens(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Comparable steps (the whole dataset each step) and a high learning rate.
func fastParams() TrainParams {
	p := DefaultTrainParams()
	p.Epochs, p.BatchSize, p.LoRARank, p.LoRAAlpha, p.LoRADropout = 6, 4, 4, 8, 0
	p.LR, p.WarmupRatio, p.LRScheduler, p.MaxSeqLen = 1e-2, 0, LRConstant, 128
	return p
}

func TestTrainingLowersTheLossAndTheAdapterRoundTrips(t *testing.T) {
	m := openTiny(t)
	ctx := context.Background()
	base, err := m.Chat(ctx, question, Greedy(10), nil)
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	a, sum, err := m.Train(ctx, trainSet, filepath.Join(t.TempDir(), "run"), fastParams(), func(p TrainProgress) bool {
		losses = append(losses, p.Loss)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if len(losses) != 6 || sum.GlobalSteps != 6 || sum.NumExamples != 4 || !math.IsNaN(sum.FinalValLoss) {
		t.Fatalf("steps %v, summary %+v", losses, sum)
	}
	if !(sum.LastStepLoss < 0.95*sum.FirstStepLoss) || sum.FirstStepLoss != losses[0] {
		t.Fatalf("the loss did not go down: %v", losses)
	}
	t.Logf("loss %.4f -> %.4f", sum.FirstStepLoss, sum.LastStepLoss)

	if err := m.SetAdapter(a); err != nil {
		t.Fatal(err)
	}
	tuned, err := m.Chat(ctx, question, Greedy(10), nil)
	if err != nil {
		t.Fatal(err)
	}
	if equalTokens(tuned.Tokens, base.Tokens) {
		t.Fatal("the adapter did not change the answer")
	}
	dir := filepath.Join(t.TempDir(), "adapter")
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	ft, err := OpenFinetuned(dir, "", &Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	again, err := ft.Chat(ctx, question, Greedy(10), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !equalTokens(again.Tokens, tuned.Tokens) {
		t.Fatalf("saved adapter answers %v, trained one %v", again.Tokens, tuned.Tokens)
	}
	if d, err := ft.Describe(); err != nil || !strings.Contains(d, "LoRA "+dir) {
		t.Fatalf("describe: %q %v", d, err)
	}
	expectStatus(t, ft.SetAdapter(a), ErrInvalidArgument, "dyag_model_load_adapter")
	if err := m.RemoveAdapter(); err != nil {
		t.Fatal(err)
	}
	if g, _ := m.Chat(ctx, question, Greedy(10), nil); !equalTokens(g.Tokens, base.Tokens) {
		t.Fatal("without its adapter the model does not answer as its base")
	}
}

func TestContextCancelsTraining(t *testing.T) {
	m := openTiny(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	steps := 0
	a, _, err := m.Train(ctx, trainSet, t.TempDir(), fastParams(), func(p TrainProgress) bool {
		steps++
		if steps == 2 {
			cancel()
		}
		return true
	})
	if a != nil || !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCancelled) {
		t.Fatalf("adapter %v, error %v", a, err)
	}
	if steps != 2 {
		t.Fatalf("%d steps ran, want 2 (cancellation is seen at the next step)", steps)
	}
	// An already cancelled context does not start.
	_, _, err = m.Train(ctx, trainSet, t.TempDir(), fastParams(), func(TrainProgress) bool { t.Fatal("a step ran"); return true })
	if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	// The progress callback cancels by returning false.
	_, _, err = m.Train(context.Background(), trainSet, t.TempDir(), fastParams(), func(p TrainProgress) bool { return p.Step < 1 })
	expectStatus(t, err, ErrCancelled, "cancelled")
	if errors.Is(err, context.Canceled) {
		t.Fatal("not a context cancellation")
	}
}

func TestGenerationStreamsAndStops(t *testing.T) {
	m := openTiny(t)
	ctx := context.Background()
	var pieces []string
	g, err := m.Chat(ctx, question, Greedy(12), func(p string) bool { pieces = append(pieces, p); return true })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pieces, "") != g.Text || len(g.Tokens) == 0 {
		t.Fatalf("pieces %q, text %q", pieces, g.Text)
	}
	n := 0
	short, err := m.Chat(ctx, question, Greedy(12), func(string) bool { n++; return n < 2 })
	if err != nil || short.Stop != StopCancelled || n != 2 {
		t.Fatalf("stop %v after %d pieces, error %v", short.Stop, n, err)
	}
	// Cancelling the context stops it with the context's error.
	cctx, cancel := context.WithCancel(ctx)
	_, err = m.Chat(cctx, question, Greedy(12), func(string) bool { cancel(); return true })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
	// Several goroutines on one model.
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			same, err := m.Chat(ctx, question, Greedy(12), nil)
			if err != nil || !equalTokens(same.Tokens, g.Tokens) {
				t.Errorf("concurrent answer %v (%v), want %v", same, err, g.Tokens)
			}
		}()
	}
	wg.Wait()
	raw, err := m.Complete(ctx, "Kubi", Greedy(5), nil)
	if err != nil || raw.PromptTokens == 0 {
		t.Fatal(raw, err)
	}
}

func TestMisuseIsReported(t *testing.T) {
	ctx := context.Background()
	_, err := Open("mod\xe8le.gguf", nil)
	expectStatus(t, err, ErrInvalidUTF8, "model is not valid UTF-8 (invalid byte at offset 3)")
	_, err = Open("/nonexistent/models/model.gguf", nil)
	expectStatus(t, err, ErrModelNotFound, "/nonexistent/models/model.gguf")
	_, err = Open("a\x00b", nil)
	expectStatus(t, err, ErrInvalidArgument, "NUL byte at offset 1")
	_, err = Open("gemma3:270m", &Options{Device: DeviceCUDA})
	expectStatus(t, err, ErrDevice, "")

	m := openTiny(t)
	_, err = m.Chat(ctx, []Message{{"user", "caf\xc3"}}, Greedy(4), nil)
	expectStatus(t, err, ErrInvalidUTF8, "messages[0].content is not valid UTF-8")
	p := Greedy(4)
	p.TopP = 0
	_, err = m.Chat(ctx, question, p, nil)
	expectStatus(t, err, ErrInvalidArgument, "top_p")
	bad := filepath.Join(repoRoot, "tests", "data", "capi", "bad_line.jsonl")
	_, _, err = m.Train(ctx, bad, t.TempDir(), fastParams(), nil)
	expectStatus(t, err, ErrData, "bad_line.jsonl:2:")

	// A stale handle: a copy of a handle used after the model was freed.
	stale := &Model{h: m.handle()}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = stale.Chat(ctx, question, Greedy(4), nil)
	expectStatus(t, err, ErrInvalidHandle, "stale model handle")
	// A closed model: its handle is the null handle.
	_, err = m.Chat(ctx, question, Greedy(4), nil)
	expectStatus(t, err, ErrInvalidHandle, "null model handle")
	if err := m.Close(); err != nil {
		t.Fatal("closing twice:", err)
	}
}

// A panic in a callback does not cross dyag: it comes back in the caller's goroutine.
func TestCallbackPanicsComeBackToTheCaller(t *testing.T) {
	m := openTiny(t)
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v", r)
		}
		// The model still works.
		if _, err := m.Chat(context.Background(), question, Greedy(2), nil); err != nil {
			t.Fatal(err)
		}
	}()
	m.Chat(context.Background(), question, Greedy(4), func(string) bool { panic("boom") })
}

func TestEvaluate(t *testing.T) {
	m := openTiny(t)
	questions := filepath.Join(repoRoot, "tests", "data", "capi", "questions.jsonl")
	out := filepath.Join(t.TempDir(), "results.json")
	p := DefaultEvalParams()
	p.Sampling.MaxTokens = 8
	var seen []int
	sum, err := m.Evaluate(context.Background(), questions, out, p, func(done, total int) bool {
		seen = append(seen, done)
		return total == 3
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Questions != 3 || sum.Errors != 0 || len(seen) != 3 || sum.CompletionTokens == 0 {
		t.Fatalf("summary %+v, callbacks %v", sum, seen)
	}
	var results struct {
		Metadata struct {
			System       string  `json:"system"`
			SystemPrompt *string `json:"system_prompt"`
		} `json:"metadata"`
		Questions []struct {
			Answer string `json:"answer"`
		} `json:"questions"`
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &results); err != nil || len(results.Questions) != 3 || results.Metadata.System != "base" {
		t.Fatalf("%v: %s", err, raw)
	}
	// No system prompt at all.
	none := ""
	p.SystemPrompt = &none
	if _, err := m.Evaluate(context.Background(), questions, out, p, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(out)
	json.Unmarshal(raw, &results)
	if results.Metadata.SystemPrompt != nil {
		t.Fatalf("system prompt %q, want none", *results.Metadata.SystemPrompt)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = m.Evaluate(ctx, questions, "", p, func(done, total int) bool { cancel(); return true })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCancelled) {
		t.Fatal(err)
	}
}
