/* Ask a model a question through the C API, streaming the answer.
 *
 * usage: query [-m MODEL] [-a ADAPTER_DIR] [-n MAX_TOKENS] [-t TEMPERATURE]
 *              [-s SYSTEM_PROMPT] QUESTION
 *   MODEL defaults to gemma3:270m (a name, a .gguf file or a Hugging Face folder).
 * The answer goes to stdout, the generated token ids and timings to stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dyag.h"

static bool print_piece(const char *piece, size_t len, void *user_data) {
    (void)user_data;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return true; /* false would stop the generation here */
}

static int fail(const char *what, DyagStatus s) {
    fprintf(stderr, "%s: %s: %s\n", what, dyag_status_name(s), dyag_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *model = "gemma3:270m", *adapter = NULL, *system = NULL;
    DyagSamplingParams params = dyag_sampling_default_params();
    int opt;
    while ((opt = getopt(argc, argv, "m:a:n:t:s:")) != -1) {
        switch (opt) {
        case 'm': model = optarg; break;
        case 'a': adapter = optarg; break;
        case 'n': params.max_tokens = (uint32_t)atoi(optarg); break;
        case 't': params.temperature = (float)atof(optarg); break;
        case 's': system = optarg; break;
        default: fprintf(stderr, "usage: %s [-m MODEL] [-a ADAPTER_DIR] [-n MAX_TOKENS] [-t TEMPERATURE] [-s SYSTEM] QUESTION\n", argv[0]); return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: %s [options] QUESTION\n", argv[0]);
        return 2;
    }

    DyagModel m = {0};
    DyagStatus s = adapter ? dyag_model_open_finetuned(adapter, model, NULL, &m) : dyag_model_open(model, NULL, &m);
    if (s != DYAG_STATUS_OK) return fail("open", s);

    DyagMessage chat[2];
    size_t n = 0;
    if (system) chat[n++] = (DyagMessage){"system", system};
    chat[n++] = (DyagMessage){"user", argv[optind]};

    DyagGeneration g = {0};
    s = dyag_generate_chat(m, chat, n, &params, print_piece, NULL, &g);
    printf("\n");
    fflush(stdout);
    if (s != DYAG_STATUS_OK) {
        dyag_model_free(m);
        return fail("generate", s);
    }
    fprintf(stderr, "tokens:");
    for (size_t i = 0; i < g.n_tokens; i++) fprintf(stderr, " %u", g.tokens[i]);
    fprintf(stderr, "\n%zu prompt tokens, %zu generated, first after %.0f ms, %.0f ms in all\n", g.prompt_tokens, g.n_tokens,
            g.time_to_first_token_ms, g.total_ms);
    dyag_generation_free(&g);
    dyag_model_free(m);
    return 0;
}
