/* Greedy generation with the real model through the C API must give the
 * CLI's tokens, one for one. EXPECTED_JSON is the output of
 *   dyag query-finetuned --base-model MODEL --temperature 0 --max-tokens N \
 *        --system-prompt SYSTEM --json QUESTION
 *
 * usage: test_gemma MODEL EXPECTED_JSON SYSTEM QUESTION MAX_TOKENS
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* The numbers of the JSON array after `"key":` (the CLI writes compact JSON). */
static size_t json_numbers(const char *json, const char *key, uint32_t *out, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":[", key);
    const char *p = strstr(json, pattern);
    if (p == NULL) return 0;
    p += strlen(pattern);
    size_t n = 0;
    while (*p != ']' && *p != '\0' && n < cap) {
        char *end;
        out[n++] = (uint32_t)strtoul(p, &end, 10);
        p = (*end == ',') ? end + 1 : end;
    }
    return n;
}

static long json_number(const char *json, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(json, pattern);
    return p ? strtol(p + strlen(pattern), NULL, 10) : -1;
}

static bool echo(const char *piece, size_t len, void *user) {
    (void)user;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return true;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL EXPECTED_JSON SYSTEM QUESTION MAX_TOKENS\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (f == NULL) {
        perror(argv[2]);
        return 2;
    }
    static char json[1 << 16];
    size_t len = fread(json, 1, sizeof json - 1, f);
    json[len] = '\0';
    fclose(f);
    uint32_t want[4096];
    size_t n_want = json_numbers(json, "tokens", want, 4096);
    long want_prompt = json_number(json, "prompt_tokens");
    EXPECT(n_want > 0);

    DyagModel m = {0};
    EXPECT_OK(dyag_model_open(argv[1], NULL, &m));
    DyagMessage chat[] = {{"system", argv[3]}, {"user", argv[4]}};
    DyagSamplingParams p = dyag_sampling_default_params();
    p.temperature = 0.0f;
    p.max_tokens = (uint32_t)atoi(argv[5]);
    DyagGeneration g = {0};
    printf("[C API] ");
    EXPECT_OK(dyag_generate_chat(m, chat, 2, &p, echo, NULL, &g));
    printf("\n");
    EXPECT((long)g.prompt_tokens == want_prompt);
    EXPECT(g.n_tokens == n_want);
    for (size_t i = 0; i < g.n_tokens && i < n_want; i++) {
        if (g.tokens[i] != want[i]) {
            fprintf(stderr, "token %zu: C API %u, CLI %u\n", i, g.tokens[i], want[i]);
            check_failures++;
            break;
        }
    }
    printf("test_gemma: %zu tokens, %.1f ms to first token, %.0f ms in all\n", g.n_tokens, g.time_to_first_token_ms, g.total_ms);
    EXPECT_OK(dyag_generation_free(&g));
    EXPECT_OK(dyag_model_free(m));
    if (check_failures > 0) {
        fprintf(stderr, "test_gemma: %d check(s) failed\n", check_failures);
        return 1;
    }
    printf("test_gemma: the C API's greedy tokens equal the CLI's (%zu tokens)\n", n_want);
    return 0;
}
