//! Chat templates against the official ones.
//!
//! tests/data/tokenizer/templates/ holds the official templates, transcribed from the
//! `chat_template` of each model's tokenizer_config.json on the Hugging Face Hub:
//! google/gemma-3-270m-it, Qwen/Qwen2.5-0.5B-Instruct, meta-llama/Meta-Llama-3-8B-Instruct,
//! TinyLlama/TinyLlama-1.1B-Chat-v1.0, microsoft/Phi-3.5-mini-instruct,
//! meta-llama/Llama-2-7b-chat-hf. official_renders.json there is what Python's Jinja2,
//! configured as transformers configures it, renders from them (render_official.py).
//!
//! Checked here: (1) each built-in renders the golden strings below (written from the
//! official templates, and equal to the Jinja2 renders); (2) the official templates
//! rendered by dyag (minijinja) give the Jinja2 strings, tools section included;
//! (3) built-in and official agree; (4) errors.

use dyag::formats::chat::ChatMessage;
use dyag::tokenizer::{BuiltinTemplate, ChatTemplate};
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizer/templates");

fn official(file: &str) -> String {
    let path = format!("{DATA}/{file}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn renders() -> Value {
    serde_json::from_str(&official("official_renders.json")).unwrap()
}

/// (built-in, official file, bos, eos) — the tokens each model's tokenizer_config names.
const FAMILIES: &[(BuiltinTemplate, &str, &str, &str)] = &[
    (BuiltinTemplate::Gemma, "gemma3-it.jinja", "<bos>", "<eos>"),
    (BuiltinTemplate::ChatMl, "qwen2.5-instruct.jinja", "", "<|im_end|>"),
    (BuiltinTemplate::Llama3, "llama3-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>"),
    (BuiltinTemplate::Zephyr, "tinyllama-chat.jinja", "<s>", "</s>"),
    (BuiltinTemplate::Phi3, "phi3.5-mini-instruct.jinja", "<s>", "<|endoftext|>"),
    (BuiltinTemplate::Llama2, "llama2-chat.jinja", "<s>", "</s>"),
];

fn system_user_assistant() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a helpful assistant."),
        ChatMessage::user("Hello!"),
        ChatMessage::assistant("  Hi, how can I help?  "),
    ]
}

fn system_user() -> Vec<ChatMessage> {
    vec![ChatMessage::system("You are a helpful assistant."), ChatMessage::user("What is GIDAF?")]
}

fn multi_turn() -> Vec<ChatMessage> {
    vec![ChatMessage::user("Hi"), ChatMessage::assistant("Hello"), ChatMessage::user("Who manages GIDAF?")]
}

fn builtin(kind: BuiltinTemplate) -> ChatTemplate {
    let &(_, _, bos, eos) = FAMILIES.iter().find(|f| f.0 == kind).unwrap();
    ChatTemplate::builtin(kind, bos, eos)
}

/// (system+user+assistant without generation prompt, system+user with it).
fn golden(kind: BuiltinTemplate) -> (&'static str, &'static str) {
    match kind {
        // Gemma has no system role: the system text opens the first user turn; contents trimmed.
        BuiltinTemplate::Gemma => (
            "<bos><start_of_turn>user\nYou are a helpful assistant.\n\nHello!<end_of_turn>\n<start_of_turn>model\nHi, how can I help?<end_of_turn>\n",
            "<bos><start_of_turn>user\nYou are a helpful assistant.\n\nWhat is GIDAF?<end_of_turn>\n<start_of_turn>model\n",
        ),
        BuiltinTemplate::ChatMl => (
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n  Hi, how can I help?  <|im_end|>\n",
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is GIDAF?<|im_end|>\n<|im_start|>assistant\n",
        ),
        BuiltinTemplate::Llama3 => (
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi, how can I help?<|eot_id|>",
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is GIDAF?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        ),
        BuiltinTemplate::Zephyr => (
            "<|system|>\nYou are a helpful assistant.</s>\n<|user|>\nHello!</s>\n<|assistant|>\n  Hi, how can I help?  </s>\n",
            "<|system|>\nYou are a helpful assistant.</s>\n<|user|>\nWhat is GIDAF?</s>\n<|assistant|>\n",
        ),
        // Without a generation prompt, Phi-3 ends the text with eos.
        BuiltinTemplate::Phi3 => (
            "<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\n  Hi, how can I help?  <|end|>\n<|endoftext|>",
            "<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nWhat is GIDAF?<|end|>\n<|assistant|>\n",
        ),
        // Llama 2 has no generation prompt: a prompt ends with [/INST].
        BuiltinTemplate::Llama2 => (
            "<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST] Hi, how can I help? </s>",
            "<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nWhat is GIDAF? [/INST]",
        ),
    }
}

#[test]
fn builtins_render_the_golden_strings() {
    for &(kind, ..) in FAMILIES {
        let t = builtin(kind);
        let (full, prompt) = golden(kind);
        assert_eq!(t.render(&system_user_assistant(), false).unwrap(), full, "{kind:?}");
        assert_eq!(t.render(&system_user(), true).unwrap(), prompt, "{kind:?}");
        assert_eq!(t.builtin_kind(), Some(kind));
    }
}

#[test]
fn goldens_are_what_jinja2_renders_from_the_official_templates() {
    let renders = renders();
    for &(kind, file, ..) in FAMILIES {
        let outputs = &renders["renders"][file]["outputs"];
        let (full, prompt) = golden(kind);
        assert_eq!(outputs["system_user_assistant"], full, "{file}");
        assert_eq!(outputs["system_user_generation"], prompt, "{file}");
    }
}

#[test]
fn official_templates_render_with_minijinja_as_with_jinja2() {
    let renders = renders();
    let conversations = [
        ("system_user_assistant", system_user_assistant(), false),
        ("system_user_generation", system_user(), true),
        ("multi_turn_generation", multi_turn(), true),
    ];
    for &(_, file, bos, eos) in FAMILIES {
        let t = ChatTemplate::from_jinja(&official(file), bos, eos).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(t.builtin_kind().is_none());
        for (key, messages, gen) in &conversations {
            let want = renders["renders"][file]["outputs"][key].as_str().unwrap();
            assert_eq!(t.render(messages, *gen).unwrap(), want, "{file} / {key}");
        }
    }
}

#[test]
fn qwen_tools_section_renders_like_transformers() {
    let renders = renders();
    let tools: Vec<Value> = renders["tools"].as_array().unwrap().clone();
    let t = ChatTemplate::from_jinja(&official("qwen2.5-instruct.jinja"), "", "<|im_end|>").unwrap();
    let out = t.render_with_tools(&system_user(), Some(&tools), true).unwrap();
    let want = renders["renders"]["qwen2.5-instruct.jinja"]["outputs"]["with_tools"].as_str().unwrap();
    assert_eq!(out, want);
    // Python's json.dumps spacing and raw (non-escaped) accents, as transformers' tojson.
    assert!(out.contains(r#"{"function": {"description": "Get the owner of an application, e.g. « GIDAF »."#));
}

#[test]
fn builtins_agree_with_the_official_templates() {
    for &(kind, file, bos, eos) in FAMILIES {
        let ours = ChatTemplate::builtin(kind, bos, eos);
        let theirs = ChatTemplate::from_jinja(&official(file), bos, eos).unwrap();
        for (messages, gen) in [(system_user_assistant(), false), (system_user(), true), (system_user(), false)] {
            assert_eq!(ours.render(&messages, gen).unwrap(), theirs.render(&messages, gen).unwrap(), "{kind:?}");
        }
        let ours_multi = ours.render(&multi_turn(), true).unwrap();
        let theirs_multi = theirs.render(&multi_turn(), true).unwrap();
        if kind == BuiltinTemplate::ChatMl {
            // Qwen2.5's own template adds its default system prompt; generic ChatML does not.
            let qwen_default = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n";
            assert_eq!(format!("{qwen_default}{ours_multi}"), theirs_multi);
        } else {
            assert_eq!(ours_multi, theirs_multi, "{kind:?}");
        }
    }
}

#[test]
fn conversation_errors_are_clear() {
    for &(kind, ..) in FAMILIES {
        let t = builtin(kind);
        let e = t.render(&[], true).unwrap_err().to_string();
        assert!(e.contains("empty"), "{kind:?}: {e}");
        let e = t.render(&[ChatMessage::new("robot", "beep")], true).unwrap_err().to_string();
        assert!(e.contains("message 0") && e.contains("robot"), "{kind:?}: {e}");
        let e = t.render(&[ChatMessage::user("a"), ChatMessage::new("tool", "42")], true).unwrap_err().to_string();
        assert!(e.contains("message 1") && e.contains("tool"), "{kind:?}: {e}");
    }
    // Gemma and Llama 2 require alternating turns; the template's own message comes through.
    for kind in [BuiltinTemplate::Gemma, BuiltinTemplate::Llama2] {
        let e = builtin(kind).render(&[ChatMessage::user("a"), ChatMessage::user("b")], true).unwrap_err().to_string();
        assert!(e.contains("Conversation roles must alternate"), "{kind:?}: {e}");
    }
    // A model template may know tool turns.
    let t = ChatTemplate::from_jinja(&official("qwen2.5-instruct.jinja"), "", "<|im_end|>").unwrap();
    let out = t.render(&[ChatMessage::user("a"), ChatMessage::new("tool", "42")], false).unwrap();
    assert!(out.contains("<tool_response>\n42\n</tool_response>"), "{out}");
}

#[test]
fn template_errors_name_the_problem() {
    let e = ChatTemplate::from_jinja("{% for m in messages %}{{ m.content }", "", "").unwrap_err().to_string();
    assert!(e.contains("does not compile"), "{e}");
    let t = ChatTemplate::from_jinja("{{ messages[0].content | no_such_filter }}", "", "");
    let e = match t {
        Err(e) => e.to_string(),
        Ok(t) => t.render(&[ChatMessage::user("x")], false).unwrap_err().to_string(),
    };
    assert!(e.contains("no_such_filter"), "{e}");
}

#[test]
fn builtin_choice_by_architecture() {
    let none = |_: &str| false;
    let llama3_vocab = |p: &str| p == "<|start_header_id|>";
    assert_eq!(ChatTemplate::builtin_for_architecture("gemma3", "", &none), BuiltinTemplate::Gemma);
    assert_eq!(ChatTemplate::builtin_for_architecture("gemma2", "", &none), BuiltinTemplate::Gemma);
    assert_eq!(ChatTemplate::builtin_for_architecture("gemma", "", &none), BuiltinTemplate::Gemma);
    assert_eq!(ChatTemplate::builtin_for_architecture("qwen2", "", &none), BuiltinTemplate::ChatMl);
    assert_eq!(ChatTemplate::builtin_for_architecture("phi3", "", &none), BuiltinTemplate::Phi3);
    assert_eq!(ChatTemplate::builtin_for_architecture("llama", "Llama 3.2 1B", &llama3_vocab), BuiltinTemplate::Llama3);
    assert_eq!(ChatTemplate::builtin_for_architecture("llama", "TinyLlama-1.1B-Chat", &none), BuiltinTemplate::Zephyr);
    assert_eq!(ChatTemplate::builtin_for_architecture("llama", "Llama-2-7b-chat", &none), BuiltinTemplate::Llama2);
    assert_eq!(ChatTemplate::builtin_for_architecture("mistral", "", &none), BuiltinTemplate::Llama2);
}

#[test]
fn python_string_methods_and_generation_blocks() {
    let src = "{% for m in messages %}{% if m.content.startswith('!') %}{{ m.content[1:].strip().upper() }}{% else %}{%- generation %}{{ m.content }}{%- endgeneration %}{% endif %}{% endfor %}";
    let t = ChatTemplate::from_jinja(src, "", "").unwrap();
    assert_eq!(t.render(&[ChatMessage::user("!  loud "), ChatMessage::assistant("calm")], false).unwrap(), "LOUDcalm");
}
