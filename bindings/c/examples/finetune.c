/* Train a LoRA adapter through the C API, with a progress line per step and
 * Ctrl-C to cancel, then save it and ask the fine-tuned model a question.
 *
 * usage: finetune MODEL DATASET_JSONL OUTPUT_DIR [EPOCHS] [QUESTION]
 *   The adapter is saved in OUTPUT_DIR/final (checkpoints in OUTPUT_DIR).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "dyag.h"

static volatile sig_atomic_t interrupted = 0;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static bool on_progress(const DyagTrainProgress *p, void *user_data) {
    (void)user_data;
    fprintf(stderr, "step %zu/%zu epoch %zu loss %.4f lr %.2e %.0f tok/s%s%s\n", p->step, p->total_steps, p->epoch, p->loss,
            p->lr, p->tokens_per_second, p->checkpoint ? " checkpoint " : "", p->checkpoint ? p->checkpoint : "");
    return !interrupted; /* false cancels: dyag_train returns DYAG_STATUS_CANCELLED */
}

static int fail(const char *what, DyagStatus s) {
    fprintf(stderr, "%s: %s: %s\n", what, dyag_status_name(s), dyag_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: %s MODEL DATASET_JSONL OUTPUT_DIR [EPOCHS] [QUESTION]\n", argv[0]);
        return 2;
    }
    signal(SIGINT, on_sigint);
    DyagModel m = {0};
    DyagStatus s = dyag_model_open(argv[1], NULL, &m);
    if (s != DYAG_STATUS_OK) return fail("open", s);

    DyagTrainParams params = dyag_train_default_params();
    if (argc > 4) params.epochs = (uint32_t)atoi(argv[4]);
    DyagAdapter adapter = {0};
    DyagTrainSummary summary;
    s = dyag_train(m, argv[2], argv[3], &params, on_progress, NULL, &adapter, &summary);
    if (s != DYAG_STATUS_OK) {
        dyag_model_free(m);
        return fail("train", s);
    }
    printf("trained %zu steps in %.1f s: loss %.4f -> %.4f (mean %.4f), %zu trainable parameters\n", summary.global_steps,
           summary.train_runtime_seconds, summary.first_step_loss, summary.last_step_loss, summary.train_loss,
           summary.trainable_parameters);

    char final_dir[4096];
    snprintf(final_dir, sizeof final_dir, "%s/final", argv[3]);
    s = dyag_adapter_save(adapter, final_dir);
    if (s == DYAG_STATUS_OK) {
        printf("adapter saved in %s\n", final_dir);
        s = dyag_model_set_adapter(m, adapter);
    }
    if (s == DYAG_STATUS_OK && argc > 5) {
        DyagMessage q = {"user", argv[5]};
        DyagSamplingParams greedy = dyag_sampling_default_params();
        greedy.temperature = 0.0f;
        greedy.max_tokens = 32;
        DyagGeneration g = {0};
        s = dyag_generate_chat(m, &q, 1, &greedy, NULL, NULL, &g);
        if (s == DYAG_STATUS_OK) printf("fine-tuned answer: %s\n", g.text ? g.text : "");
        dyag_generation_free(&g);
    }
    int rc = s == DYAG_STATUS_OK ? 0 : fail("adapter", s);
    dyag_adapter_free(adapter);
    dyag_model_free(m);
    return rc;
}
