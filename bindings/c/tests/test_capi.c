/* The C API from C, on the tiny Gemma 3 fixture model (fast enough to run
 * under valgrind): misuse (null pointers, null and stale handles, invalid
 * UTF-8, failing paths, bad data, small buffers), generation with streaming
 * and a cancelling callback, two threads on one model, training whose loss
 * goes down, a cancelling progress callback, saving and re-attaching the
 * adapter, evaluating a questions file.
 *
 * usage: test_capi TINY_MODEL_DIR TRAIN_JSONL BAD_LINE_JSONL QUESTIONS_JSONL
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static const char *tiny_model, *train_jsonl, *bad_jsonl, *questions_jsonl;
static char work[] = "/tmp/dyag-capi-test-XXXXXX";

static DyagModelOptions one_thread(void) {
    DyagModelOptions o = dyag_model_default_options();
    o.threads = 1;
    return o;
}

static DyagModel open_tiny(void) {
    DyagModelOptions o = one_thread();
    DyagModel m = {0};
    EXPECT_OK(dyag_model_open(tiny_model, &o, &m));
    EXPECT(m.id != 0);
    return m;
}

static DyagSamplingParams greedy(uint32_t max_tokens) {
    DyagSamplingParams p = dyag_sampling_default_params();
    p.temperature = 0.0f;
    p.max_tokens = max_tokens;
    return p;
}

static const DyagMessage question[] = {{"user", "Qui gère Kubi ?"}};

/* Greedy answer's token ids into `ids` (at most `cap`); returns how many. */
static size_t ask(DyagModel m, uint32_t max_tokens, uint32_t *ids, size_t cap) {
    DyagSamplingParams p = greedy(max_tokens);
    DyagGeneration g = {0};
    EXPECT_OK(dyag_generate_chat(m, question, 1, &p, NULL, NULL, &g));
    size_t n = g.n_tokens < cap ? g.n_tokens : cap;
    if (n > 0) memcpy(ids, g.tokens, n * sizeof *ids);
    EXPECT_OK(dyag_generation_free(&g));
    return n;
}

static int same(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static void join_path(char *out, size_t len, const char *name) { snprintf(out, len, "%s/%s", work, name); }

static int file_exists(const char *dir, const char *name) {
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* ------------------------------------------------------------------ misuse */

static void test_version_and_status_names(void) {
    EXPECT(strlen(dyag_version()) > 0);
    EXPECT(strcmp(dyag_status_name(DYAG_STATUS_INVALID_HANDLE), "DYAG_STATUS_INVALID_HANDLE") == 0);
    EXPECT(strcmp(dyag_status_name(1234), "DYAG_STATUS_UNKNOWN") == 0);
}

static void test_null_pointers(void) {
    DyagModel m = {42};
    EXPECT_STATUS(dyag_model_open(NULL, NULL, &m), DYAG_STATUS_NULL_POINTER);
    EXPECT_MESSAGE_IS("model is NULL");
    EXPECT(m.id == 0); /* a failed open leaves the null handle */
    EXPECT_STATUS(dyag_model_open(tiny_model, NULL, NULL), DYAG_STATUS_NULL_POINTER);
    EXPECT_MESSAGE_IS("out_model is NULL");

    m = open_tiny();
    DyagGeneration g = {0};
    EXPECT_STATUS(dyag_generate_chat(m, NULL, 1, NULL, NULL, NULL, &g), DYAG_STATUS_NULL_POINTER);
    EXPECT_MESSAGE_IS("messages is NULL");
    DyagMessage no_content = {"user", NULL};
    EXPECT_STATUS(dyag_generate_chat(m, &no_content, 1, NULL, NULL, NULL, &g), DYAG_STATUS_NULL_POINTER);
    EXPECT_MESSAGE_IS("messages[0].content is NULL");
    DyagAdapter a = {0};
    EXPECT_STATUS(dyag_train(m, NULL, work, NULL, NULL, NULL, &a, NULL), DYAG_STATUS_NULL_POINTER);
    EXPECT_MESSAGE_IS("dataset_path is NULL");
    EXPECT_STATUS(dyag_model_describe(m, NULL, 16, NULL), DYAG_STATUS_NULL_POINTER);
    /* Nothing to free is not an error, as with free(NULL). */
    EXPECT_OK(dyag_generation_free(NULL));
    EXPECT_OK(dyag_model_free((DyagModel){0}));
    EXPECT_OK(dyag_adapter_free((DyagAdapter){0}));
    EXPECT_OK(dyag_model_free(m));
}

static void test_null_and_stale_handles(void) {
    DyagModel m = open_tiny();
    EXPECT_OK(dyag_model_free(m));
    DyagGeneration g = {0};
    EXPECT_STATUS(dyag_generate_chat(m, question, 1, NULL, NULL, NULL, &g), DYAG_STATUS_INVALID_HANDLE);
    EXPECT_MESSAGE_HAS("stale model handle");
    EXPECT_MESSAGE_HAS("it was freed");
    EXPECT_STATUS(dyag_model_free(m), DYAG_STATUS_INVALID_HANDLE); /* double free */
    EXPECT_STATUS(dyag_generate_chat((DyagModel){0}, question, 1, NULL, NULL, NULL, &g), DYAG_STATUS_INVALID_HANDLE);
    EXPECT_MESSAGE_IS("null model handle (0)");
    EXPECT_STATUS(dyag_adapter_save((DyagAdapter){0x1234}, work), DYAG_STATUS_INVALID_HANDLE);
    EXPECT_MESSAGE_IS("adapter handle 0x1234 was not returned by dyag");
    EXPECT(g.text == NULL && g.n_tokens == 0); /* failed calls leave an empty result */
}

static void test_invalid_utf8(void) {
    DyagModel m = {0};
    EXPECT_STATUS(dyag_model_open("mod\xe8le.gguf", NULL, &m), DYAG_STATUS_INVALID_UTF8);
    EXPECT_MESSAGE_IS("model is not valid UTF-8 (invalid byte at offset 3)");
    m = open_tiny();
    DyagMessage bad[] = {{"system", "ok"}, {"user", "caf\xc3"}};
    EXPECT_STATUS(dyag_generate_chat(m, bad, 2, NULL, NULL, NULL, NULL), DYAG_STATUS_INVALID_UTF8);
    EXPECT_MESSAGE_IS("messages[1].content is not valid UTF-8 (invalid byte at offset 3)");
    EXPECT_OK(dyag_model_free(m));
}

static void test_failing_paths_and_data(void) {
    DyagModel m = {0};
    EXPECT_STATUS(dyag_model_open("/nonexistent/models/model.gguf", NULL, &m), DYAG_STATUS_MODEL_NOT_FOUND);
    EXPECT_MESSAGE_HAS("/nonexistent/models/model.gguf");
    char fake[4096];
    join_path(fake, sizeof fake, "fake.gguf");
    FILE *f = fopen(fake, "w");
    EXPECT(f != NULL);
    if (f) {
        fputs("not a model", f);
        fclose(f);
    }
    EXPECT_STATUS(dyag_model_open(fake, NULL, &m), DYAG_STATUS_FORMAT);
    EXPECT_MESSAGE_HAS("fake.gguf");
    EXPECT_STATUS(dyag_model_open_finetuned("/nonexistent/adapter", NULL, NULL, &m), DYAG_STATUS_IO);
    EXPECT_MESSAGE_HAS("/nonexistent/adapter/adapter_config.json");

    m = open_tiny();
    char out[4096];
    join_path(out, sizeof out, "never-written");
    DyagAdapter a = {0};
    EXPECT_STATUS(dyag_train(m, bad_jsonl, out, NULL, NULL, NULL, &a, NULL), DYAG_STATUS_DATA);
    char where[4096];
    snprintf(where, sizeof where, "%s:2:", bad_jsonl);
    EXPECT_MESSAGE_HAS(where);
    DyagTrainParams p = dyag_train_default_params();
    p.epochs = 0;
    EXPECT_STATUS(dyag_train(m, train_jsonl, out, &p, NULL, NULL, &a, NULL), DYAG_STATUS_INVALID_ARGUMENT);
    EXPECT_MESSAGE_HAS("epochs");
    EXPECT(access(out, F_OK) != 0); /* nothing written before the checks pass */
    DyagSamplingParams sp = dyag_sampling_default_params();
    sp.max_tokens = 0;
    EXPECT_STATUS(dyag_generate_chat(m, question, 1, &sp, NULL, NULL, NULL), DYAG_STATUS_INVALID_ARGUMENT);
    EXPECT_MESSAGE_IS("params.max_tokens must be at least 1");

    /* Output buffer: ask for the size, then fill; a small one is cut and flagged. */
    size_t needed = 0;
    EXPECT_STATUS(dyag_model_describe(m, NULL, 0, &needed), DYAG_STATUS_BUFFER_TOO_SMALL);
    char *full = malloc(needed + 1);
    EXPECT_OK(dyag_model_describe(m, full, needed + 1, &needed));
    EXPECT(strlen(full) == needed);
    char small[5];
    EXPECT_STATUS(dyag_model_describe(m, small, sizeof small, NULL), DYAG_STATUS_BUFFER_TOO_SMALL);
    EXPECT(strncmp(small, full, 4) == 0 && small[4] == '\0');
    free(full);
    EXPECT_OK(dyag_model_free(m));
}

/* -------------------------------------------------------------- generation */

struct stream {
    char text[4096];
    size_t len;
    int pieces, stop_after;
};

static bool on_piece(const char *piece, size_t len, void *user) {
    struct stream *s = user;
    if (s->len + len < sizeof s->text) {
        memcpy(s->text + s->len, piece, len);
        s->len += len;
        s->text[s->len] = '\0';
    }
    return ++s->pieces < s->stop_after;
}

static void test_generation_streams_and_cancels(void) {
    DyagModel m = open_tiny();
    DyagSamplingParams p = greedy(12);
    struct stream s = {.stop_after = 1000};
    DyagGeneration g = {0};
    EXPECT_OK(dyag_generate_chat(m, question, 1, &p, on_piece, &s, &g));
    EXPECT(g.n_tokens > 0 && g.n_tokens <= 12);
    EXPECT(g.text != NULL && strlen(g.text) == g.text_len);
    EXPECT(g.text != NULL && strcmp(g.text, s.text) == 0); /* the pieces make the text */
    EXPECT(g.prompt_tokens > 0);
    EXPECT(g.stop_reason == DYAG_STOP_REASON_LENGTH || g.stop_reason == DYAG_STOP_REASON_EOS || g.stop_reason == DYAG_STOP_REASON_STOP_TEXT);
    uint32_t first[12];
    size_t n_first = g.n_tokens;
    memcpy(first, g.tokens, n_first * sizeof *first);
    EXPECT_OK(dyag_generation_free(&g));
    EXPECT(g.text == NULL && g.tokens == NULL);
    EXPECT_OK(dyag_generation_free(&g)); /* freeing twice is harmless */

    /* A callback that says stop: status OK, stop reason CANCELLED, nothing more sent. */
    struct stream c = {.stop_after = 2};
    EXPECT_OK(dyag_generate_chat(m, question, 1, &p, on_piece, &c, &g));
    EXPECT(g.stop_reason == DYAG_STOP_REASON_CANCELLED);
    EXPECT(c.pieces == 2);
    EXPECT(g.n_tokens >= 2 && g.n_tokens < n_first + 1 && same(g.tokens, g.n_tokens, first, g.n_tokens));
    EXPECT_OK(dyag_generation_free(&g));

    /* Raw text, without the chat template. */
    DyagSamplingParams five = greedy(5);
    EXPECT_OK(dyag_generate_text(m, "Kubi", &five, NULL, NULL, &g));
    EXPECT(g.n_tokens == 5 || g.stop_reason == DYAG_STOP_REASON_EOS);
    EXPECT_OK(dyag_generation_free(&g));
    EXPECT_OK(dyag_model_free(m));
}

struct worker {
    DyagModel model;
    uint32_t ids[8];
    size_t n;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    w->n = ask(w->model, 8, w->ids, 8);
    return NULL;
}

static void test_two_threads_share_a_model(void) {
    DyagModel m = open_tiny();
    uint32_t want[8];
    size_t n = ask(m, 8, want, 8);
    struct worker w[2] = {{.model = m}, {.model = m}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) EXPECT(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) EXPECT(same(w[i].ids, w[i].n, want, n));
    EXPECT_OK(dyag_model_free(m));
}

/* ---------------------------------------------------------------- training */

struct steps {
    double losses[64];
    size_t n, cancel_at, checkpoints;
};

static bool on_step(const DyagTrainProgress *p, void *user) {
    struct steps *s = user;
    if (s->n < 64) s->losses[s->n] = p->loss;
    s->n++;
    if (p->checkpoint != NULL) s->checkpoints++;
    return p->step < s->cancel_at;
}

/* Every example in each step and a high learning rate: comparable step losses that fall fast. */
static DyagTrainParams fast_params(void) {
    DyagTrainParams p = dyag_train_default_params();
    p.epochs = 6;
    p.batch_size = 4;
    p.lora_rank = 4;
    p.lora_alpha = 8.0f;
    p.lora_dropout = 0.0f;
    p.lr = 1e-2;
    p.warmup_ratio = 0.0;
    p.lr_scheduler = DYAG_LR_SCHEDULER_CONSTANT;
    p.max_seq_len = 128;
    return p;
}

static void test_training(void) {
    DyagModel m = open_tiny();
    uint32_t base[10], tuned[10], again[10];
    size_t n_base = ask(m, 10, base, 10);

    char run[4096], saved[4096];
    join_path(run, sizeof run, "run");
    join_path(saved, sizeof saved, "adapter");
    DyagTrainParams p = fast_params();

    /* A progress callback that cancels at step 2. */
    struct steps cancel = {.cancel_at = 2};
    DyagAdapter a = {99};
    EXPECT_STATUS(dyag_train(m, train_jsonl, run, &p, on_step, &cancel, &a, NULL), DYAG_STATUS_CANCELLED);
    EXPECT_MESSAGE_IS("cancelled");
    EXPECT(cancel.n == 2 && a.id == 0);

    struct steps steps = {.cancel_at = SIZE_MAX};
    DyagTrainSummary sum;
    EXPECT_OK(dyag_train(m, train_jsonl, run, &p, on_step, &steps, &a, &sum));
    EXPECT(a.id != 0);
    EXPECT(steps.n == 6 && sum.global_steps == 6 && sum.num_examples == 4);
    EXPECT(steps.checkpoints == 6); /* one per epoch */
    EXPECT(sum.first_step_loss == steps.losses[0] && sum.last_step_loss == steps.losses[5]);
    printf("test_capi: training loss %.4f -> %.4f over %zu steps\n", sum.first_step_loss, sum.last_step_loss, sum.global_steps);
    EXPECT(sum.last_step_loss < 0.95 * sum.first_step_loss); /* the loss goes down */
    for (size_t i = 1; i < steps.n && i < 64; i++) EXPECT(steps.losses[i] < steps.losses[0]);

    /* Attached, the adapter changes the answer; removed, the base answers again. */
    EXPECT_OK(dyag_model_set_adapter(m, a));
    size_t n_tuned = ask(m, 10, tuned, 10);
    EXPECT(!same(tuned, n_tuned, base, n_base));
    EXPECT_OK(dyag_model_remove_adapter(m));
    size_t n_again = ask(m, 10, again, 10);
    EXPECT(same(again, n_again, base, n_base));

    /* Saved and attached from the folder: the same answer as the trained adapter. */
    EXPECT_OK(dyag_adapter_save(a, saved));
    EXPECT(file_exists(saved, "adapter_config.json") && file_exists(saved, "adapter_model.safetensors"));
    EXPECT_OK(dyag_model_load_adapter(m, saved));
    n_again = ask(m, 10, again, 10);
    EXPECT(same(again, n_again, tuned, n_tuned));
    DyagModel ft = {0};
    DyagModelOptions o = one_thread();
    EXPECT_OK(dyag_model_open_finetuned(saved, tiny_model, &o, &ft));
    n_again = ask(ft, 10, again, 10);
    EXPECT(same(again, n_again, tuned, n_tuned));
    /* An adapter trained on one handle cannot be set on another. */
    EXPECT_STATUS(dyag_model_set_adapter(ft, a), DYAG_STATUS_INVALID_ARGUMENT);
    EXPECT_MESSAGE_HAS("dyag_model_load_adapter");

    EXPECT_OK(dyag_model_free(m));
    EXPECT_OK(dyag_adapter_save(a, saved)); /* the adapter keeps its base alive */
    EXPECT_OK(dyag_adapter_free(a));
    EXPECT_STATUS(dyag_adapter_free(a), DYAG_STATUS_INVALID_HANDLE);
    EXPECT_OK(dyag_model_free(ft));
}

/* -------------------------------------------------------------- evaluation */

static bool count_questions(size_t done, size_t total, void *user) {
    size_t *calls = user;
    EXPECT(done == *calls && total == 3);
    (*calls)++;
    return true;
}

static bool cancel_second(size_t done, size_t total, void *user) {
    (void)total, (void)user;
    return done < 1;
}

static void test_evaluation(void) {
    DyagModel m = open_tiny();
    char results[4096];
    join_path(results, sizeof results, "results.json");
    DyagEvalParams p = dyag_eval_default_params();
    p.sampling.max_tokens = 8;
    size_t calls = 0;
    DyagEvalSummary sum;
    EXPECT_OK(dyag_evaluate(m, questions_jsonl, results, &p, count_questions, &calls, &sum));
    EXPECT(calls == 3 && sum.questions == 3 && sum.errors == 0);
    EXPECT(sum.mean_f1 >= 0.0 && sum.mean_f1 <= 1.0 && sum.completion_tokens > 0);
    EXPECT(access(results, F_OK) == 0);
    printf("test_capi: evaluation of 3 questions, mean F1 %.3f, keyword recall %.3f\n", sum.mean_f1, sum.mean_keyword_recall);

    /* A callback that cancels: CANCELLED, and no results file. */
    char never[4096];
    join_path(never, sizeof never, "never.json");
    EXPECT_STATUS(dyag_evaluate(m, questions_jsonl, never, &p, cancel_second, NULL, NULL), DYAG_STATUS_CANCELLED);
    EXPECT(access(never, F_OK) != 0);
    /* A bad questions line is named by file:line. */
    EXPECT_STATUS(dyag_evaluate(m, bad_jsonl, NULL, &p, NULL, NULL, NULL), DYAG_STATUS_DATA);
    EXPECT_STATUS(dyag_evaluate(m, NULL, NULL, &p, NULL, NULL, NULL), DYAG_STATUS_NULL_POINTER);
    EXPECT_MESSAGE_IS("questions_path is NULL");
    EXPECT_OK(dyag_model_free(m));
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s TINY_MODEL_DIR TRAIN_JSONL BAD_LINE_JSONL QUESTIONS_JSONL\n", argv[0]);
        return 2;
    }
    tiny_model = argv[1];
    train_jsonl = argv[2];
    bad_jsonl = argv[3];
    questions_jsonl = argv[4];
    if (mkdtemp(work) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_version_and_status_names();
    test_null_pointers();
    test_null_and_stale_handles();
    test_invalid_utf8();
    test_failing_paths_and_data();
    test_generation_streams_and_cancels();
    test_two_threads_share_a_model();
    test_training();
    test_evaluation();
    nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (check_failures > 0) {
        fprintf(stderr, "test_capi: %d check(s) failed\n", check_failures);
        return 1;
    }
    printf("test_capi: all checks passed (dyag %s)\n", dyag_version());
    return 0;
}
