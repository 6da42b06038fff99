//! File formats: bytes in, typed structs out. Every length and offset is
//! checked before use; errors name the file and what is wrong.

pub mod bounded;
pub mod chat;
pub mod chat_jsonl;
pub mod gguf;
pub mod json;
pub mod mapping;
pub mod safetensors;
