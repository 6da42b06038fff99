//! A `ChatGenerator` over any OpenAI-compatible chat endpoint (OpenAI,
//! llama.cpp's server, vLLM, Ollama's /v1...), with a blocking HTTP client.
//! Replies are streamed (server-sent events), so `on_text` sees the text as it
//! comes, can stop it early, and time-to-first-token is measured; a server
//! that answers with a plain JSON body instead is handled too.

use crate::formats::chat::ChatMessage;
use crate::infer::stop::TextStop;
use crate::infer::{ChatGenerator, Generation, SamplingParams, StopReason};
use crate::{Error, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};

pub struct OpenAiChat {
    agent: ureq::Agent,
    url: String,
    model: String,
    api_key: Option<String>,
}

impl OpenAiChat {
    /// `base_url` is the API root ("http://127.0.0.1:8080/v1") or the full
    /// chat-completions URL. `timeout` bounds each read of the response.
    pub fn new(base_url: &str, model: &str, api_key: Option<String>, timeout: Duration) -> Result<Self> {
        let base = base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid(format!("--llm-url '{base_url}' must start with http:// or https://")));
        }
        let url = if base.ends_with("/chat/completions") { base.to_string() } else { format!("{base}/chat/completions") };
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(timeout)
            .timeout_write(Duration::from_secs(30))
            .build();
        Ok(OpenAiChat { agent, url, model: model.to_string(), api_key: api_key.filter(|k| !k.trim().is_empty()) })
    }

    fn body(&self, messages: &[ChatMessage], p: &SamplingParams) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "max_tokens": p.max_tokens,
            "seed": p.seed,
            "stream": true,
        });
        // Not in OpenAI's API, understood by llama.cpp and vLLM.
        if p.top_k > 0 {
            body["top_k"] = json!(p.top_k);
        }
        // OpenAI takes at most 4 stop strings; the end-of-answer rule is applied here, on the text.
        if !p.stop.is_empty() {
            body["stop"] = json!(p.stop.iter().take(4).collect::<Vec<_>>());
        }
        body
    }
}

/// Reads at most this much of an error body into the message.
const ERROR_BODY_CHARS: usize = 300;

impl ChatGenerator for OpenAiChat {
    fn chat(&mut self, messages: &[ChatMessage], params: &SamplingParams, caller: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        let start = Instant::now();
        let mut req =
            self.agent.post(&self.url).set("Content-Type", "application/json").set("Accept", "text/event-stream, application/json");
        if let Some(k) = &self.api_key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        let resp = match req.send_string(&self.body(messages, params).to_string()) {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                let mut body = String::new();
                let _ = r.into_reader().take(4096).read_to_string(&mut body);
                let body: String = body.chars().take(ERROR_BODY_CHARS).collect();
                return Err(Error::msg(format!("{}: HTTP {code}: {}", self.url, body.trim())));
            }
            // ureq's transport errors already name the URL.
            Err(e) if e.to_string().contains(&self.url) => return Err(Error::msg(e.to_string())),
            Err(e) => return Err(Error::msg(format!("{}: {e}", self.url))),
        };
        let streamed = resp.content_type().contains("event-stream");
        let mut out = Collected::default();
        // The caller sees the text cut by the stop strings and the end-of-answer rule, as with dyag's engine.
        let mut text_stop = TextStop::new(&params.stop, params.first_answer);
        let mut kept = String::new();
        let mut stopped_on_text = false;
        let mut filtered = |piece: &str| {
            let (released, stop_here) = text_stop.push(piece);
            kept.push_str(&released);
            let go_on = released.is_empty() || caller(&released);
            stopped_on_text |= stop_here && go_on;
            go_on && !stop_here
        };
        let on_text: &mut dyn FnMut(&str) -> bool = &mut filtered;
        if streamed {
            read_stream(&self.url, resp.into_reader(), start, on_text, &mut out)?;
        } else {
            let mut body = String::new();
            resp.into_reader()
                .take(64 << 20)
                .read_to_string(&mut body)
                .map_err(|e| Error::msg(format!("{}: reading the reply: {e}", self.url)))?;
            let v: Value = serde_json::from_str(&body).map_err(|e| Error::msg(format!("{}: the reply is not JSON: {e}", self.url)))?;
            check_error(&self.url, &v)?;
            let text = v["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string();
            out.first = Some(start.elapsed());
            if !text.is_empty() && !on_text(&text) {
                out.cancelled = true;
            }
            out.text = text;
            out.finish = v["choices"][0]["finish_reason"].as_str().map(str::to_string);
            out.usage(&v);
        }
        if stopped_on_text {
            out.cancelled = false;
        } else if !out.cancelled {
            let rest = text_stop.finish();
            if !rest.is_empty() {
                kept.push_str(&rest);
                caller(&rest);
            }
        }
        out.text = kept;
        let total_time = start.elapsed();
        let stop = if stopped_on_text {
            StopReason::StopText
        } else if out.cancelled {
            StopReason::Cancelled
        } else if out.finish.as_deref() == Some("length") {
            StopReason::Length
        } else {
            StopReason::Eos
        };
        Ok(Generation {
            text: out.text,
            prompt_tokens: out.prompt_tokens,
            // Without a usage record, each streamed piece counts as one token (servers send one token per event).
            completion_tokens: out.completion_tokens.unwrap_or(out.pieces),
            time_to_first_token: out.first.unwrap_or(total_time),
            total_time,
            stop,
        })
    }

    fn describe(&self) -> String {
        format!("{} at {}", self.model, self.url)
    }
}

#[derive(Default)]
struct Collected {
    text: String,
    pieces: usize,
    first: Option<Duration>,
    finish: Option<String>,
    prompt_tokens: usize,
    completion_tokens: Option<usize>,
    cancelled: bool,
}

impl Collected {
    fn usage(&mut self, v: &Value) {
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = u["prompt_tokens"].as_u64().unwrap_or(0) as usize;
            self.completion_tokens = u["completion_tokens"].as_u64().map(|n| n as usize);
        }
    }
}

fn check_error(url: &str, v: &Value) -> Result<()> {
    match v.get("error") {
        Some(e) if !e.is_null() => {
            let msg = e["message"].as_str().map(str::to_string).unwrap_or_else(|| e.to_string());
            Err(Error::msg(format!("{url}: the server reported an error: {msg}")))
        }
        _ => Ok(()),
    }
}

/// Server-sent events: `data: {json}` lines, ending with `data: [DONE]`.
fn read_stream(url: &str, reader: impl Read, start: Instant, on_text: &mut dyn FnMut(&str) -> bool, out: &mut Collected) -> Result<()> {
    let reader = BufReader::new(reader);
    for line in reader.lines() {
        let line = line.map_err(|e| Error::msg(format!("{url}: reading the stream: {e}")))?;
        let Some(data) = line.strip_prefix("data:") else { continue };
        let data = data.trim();
        if data == "[DONE]" {
            break;
        }
        let v: Value = serde_json::from_str(data)
            .map_err(|e| Error::msg(format!("{url}: bad event in the stream ({e}): {}", data.chars().take(120).collect::<String>())))?;
        check_error(url, &v)?;
        out.usage(&v);
        let choice = &v["choices"][0];
        if let Some(f) = choice["finish_reason"].as_str() {
            out.finish = Some(f.to_string());
        }
        if let Some(piece) = choice["delta"]["content"].as_str().filter(|p| !p.is_empty()) {
            out.first.get_or_insert_with(|| start.elapsed());
            out.pieces += 1;
            out.text.push_str(piece);
            if !on_text(piece) {
                // Dropping the reader closes the connection: the server stops generating.
                out.cancelled = true;
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_parsing() {
        let sse = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"Bon\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"jour\"},\"finish_reason\":\"length\"}]}\n\n\
data: [DONE]\n\n";
        let mut out = Collected::default();
        let mut seen = Vec::new();
        read_stream(
            "u",
            sse.as_bytes(),
            Instant::now(),
            &mut |p| {
                seen.push(p.to_string());
                true
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(out.text, "Bonjour");
        assert_eq!(seen, ["Bon", "jour"]);
        assert_eq!(out.finish.as_deref(), Some("length"));
        let mut out = Collected::default();
        read_stream("u", sse.as_bytes(), Instant::now(), &mut |_| false, &mut out).unwrap();
        assert_eq!(out.text, "Bon");
        assert!(out.cancelled);
        let err = "data: {\"error\":{\"message\":\"model not loaded\"}}\n";
        let e = read_stream("u", err.as_bytes(), Instant::now(), &mut |_| true, &mut Collected::default()).unwrap_err().to_string();
        assert!(e.contains("model not loaded"), "{e}");
    }

    #[test]
    fn urls() {
        let c = OpenAiChat::new("http://127.0.0.1:8080/v1/", "m", None, Duration::from_secs(1)).unwrap();
        assert_eq!(c.url, "http://127.0.0.1:8080/v1/chat/completions");
        assert!(OpenAiChat::new("127.0.0.1:8080", "m", None, Duration::from_secs(1)).is_err());
        // Nothing listens on port 9 of loopback: a clear error naming the URL.
        let mut c = OpenAiChat::new("http://127.0.0.1:9/v1", "m", None, Duration::from_secs(1)).unwrap();
        let e = c.chat(&[ChatMessage::user("x")], &SamplingParams::greedy(4), &mut |_| true).unwrap_err().to_string();
        assert!(e.starts_with("http://127.0.0.1:9/v1/chat/completions:"), "{e}");
    }
}
