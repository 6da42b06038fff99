#!/usr/bin/env python3
"""Renders the official chat templates of this folder with Jinja2 set up exactly as
transformers' apply_chat_template does (transformers/utils/chat_template_utils.py:
ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, a tojson
that is json.dumps with ensure_ascii=False, raise_exception), and writes the outputs
to official_renders.json. tests/chat_template_builtin.rs checks that minijinja gives
the same strings from the same templates, and that dyag's built-in templates do too.

Usage: python3 render_official.py > official_renders.json   (needs: pip install jinja2)
"""
import json
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = {
    # file: (bos_token, eos_token) as in each model's tokenizer_config.json
    "gemma3-it.jinja": ("<bos>", "<eos>"),
    "qwen2.5-instruct.jinja": ("", "<|im_end|>"),
    "llama3-instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "tinyllama-chat.jinja": ("<s>", "</s>"),
    "phi3.5-mini-instruct.jinja": ("<s>", "<|endoftext|>"),
    "llama2-chat.jinja": ("<s>", "</s>"),
}

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
CONVERSATIONS = {
    "system_user_assistant": ([SYSTEM, {"role": "user", "content": "Hello!"},
                               {"role": "assistant", "content": "  Hi, how can I help?  "}], False),
    "system_user_generation": ([SYSTEM, {"role": "user", "content": "What is GIDAF?"}], True),
    "multi_turn_generation": ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                               {"role": "user", "content": "Who manages GIDAF?"}], True),
}
# Keys in alphabetical order: minijinja (without its preserve_order feature) iterates
# maps sorted, Python in insertion order; sorted input makes both agree.
TOOLS = [{"function": {"description": "Get the owner of an application, e.g. « GIDAF ».",
                       "name": "get_owner",
                       "parameters": {"properties": {"app": {"description": "Application name", "type": "string"}},
                                      "required": ["app"], "type": "object"}},
          "type": "function"}]


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    out = {"made_by": "tests/data/tokenizer/templates/render_official.py (Jinja2 " + jinja2.__version__ + ")",
           "conversations": {k: {"messages": m, "add_generation_prompt": g} for k, (m, g) in CONVERSATIONS.items()},
           "tools": TOOLS, "renders": {}}
    for name, (bos, eos) in TEMPLATES.items():
        template = env.from_string(open(name).read())
        renders = {}
        for key, (messages, gen) in CONVERSATIONS.items():
            renders[key] = template.render(messages=messages, add_generation_prompt=gen, bos_token=bos,
                                           eos_token=eos, tools=None)
        if name.startswith("qwen"):
            messages, gen = CONVERSATIONS["system_user_generation"]
            renders["with_tools"] = template.render(messages=messages, add_generation_prompt=gen, bos_token=bos,
                                                    eos_token=eos, tools=TOOLS)
        out["renders"][name] = {"bos_token": bos, "eos_token": eos, "outputs": renders}
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
