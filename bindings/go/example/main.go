// Command example shows the Go binding: ask a model a question with the
// answer streamed, or first fine-tune it on a chat dataset (Ctrl-C cancels
// the training through the context).
//
//	go run ./example -model gemma3:270m "Qu'est-ce que Kubernetes ?"
//	go run ./example -model MODEL -train data.jsonl -out run/ -epochs 3 "Question ?"
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"dyag"
)

func main() {
	model := flag.String("model", "gemma3:270m", "base model: a name, a .gguf file or a Hugging Face folder")
	adapter := flag.String("adapter", "", "LoRA adapter folder to attach")
	maxTokens := flag.Int("max-tokens", 64, "largest number of generated tokens")
	system := flag.String("system", "", "system prompt")
	train := flag.String("train", "", "fine-tune on this chat dataset (JSONL) first")
	out := flag.String("out", "run", "output folder of the fine-tuning")
	epochs := flag.Int("epochs", 3, "fine-tuning epochs")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: example [flags] QUESTION")
		os.Exit(2)
	}
	if err := run(*model, *adapter, *system, *train, *out, *epochs, *maxTokens, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(model, adapter, system, train, out string, epochs, maxTokens int, question string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(os.Stderr, "dyag %s\n", dyag.Version())
	m, err := dyag.Open(model, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	if adapter != "" {
		if err := m.LoadAdapter(adapter); err != nil {
			return err
		}
	}
	if train != "" {
		params := dyag.DefaultTrainParams()
		params.Epochs = epochs
		a, sum, err := m.Train(ctx, train, out, params, func(p dyag.TrainProgress) bool {
			fmt.Fprintf(os.Stderr, "step %d/%d epoch %d loss %.4f lr %.2e\n", p.Step, p.TotalSteps, p.Epoch, p.Loss, p.LR)
			return true
		})
		if err != nil {
			return err
		}
		defer a.Close()
		fmt.Fprintf(os.Stderr, "trained %d steps: loss %.4f -> %.4f\n", sum.GlobalSteps, sum.FirstStepLoss, sum.LastStepLoss)
		final := filepath.Join(out, "final")
		if err := a.Save(final); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "adapter saved in %s\n", final)
		if err := m.SetAdapter(a); err != nil {
			return err
		}
	}
	var messages []dyag.Message
	if system != "" {
		messages = append(messages, dyag.Message{Role: "system", Content: system})
	}
	messages = append(messages, dyag.Message{Role: "user", Content: question})
	g, err := m.Chat(ctx, messages, dyag.Greedy(maxTokens), func(piece string) bool {
		fmt.Print(piece)
		return true
	})
	fmt.Println()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d prompt tokens, %d generated (%s), %v in all\n", g.PromptTokens, len(g.Tokens), g.Stop, g.Total)
	return nil
}
