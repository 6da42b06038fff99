//! Stopping on text: the caller's stop strings (OpenAI's `stop`) and the end
//! of the first answer. A small model, above all a base model, does not
//! always emit its end-of-turn token: it goes on with a blank line and a
//! ramble, or writes the next "Question :" itself. Those continuations are
//! not part of the answer, so generation ends where they begin and the text
//! is cut there, for every caller (query, evaluation, the C ABI), not only in
//! scoring.
//!
//! Text is released to the caller only once it cannot be the start of a stop
//! marker, so a streamed answer never shows a marker's first characters.

/// Markers that start something other than the answer, searched after the
/// answer's first non-blank character. A blank line ends the answer: dyag's
/// training answers never contain one.
pub const FIRST_ANSWER_MARKERS: &[&str] = &[
    "\n\n",
    "\r\n\r\n",
    "\nQuestion",
    "\nQ :",
    "\nQ:",
    "\nUser:",
    "\nUtilisateur",
    "\nRéponse :",
    "\n###",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|im_start|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|end|>",
    "</s>",
];

/// Accumulates generated text and says where it must stop.
pub struct TextStop {
    markers: Vec<String>,
    text: String,
    /// Bytes of `text` already released to the caller.
    released: usize,
    /// Bytes of leading whitespace, which markers do not match in.
    lead: Option<usize>,
}

impl TextStop {
    /// `stop`: the caller's strings; `first_answer`: also stop at [`FIRST_ANSWER_MARKERS`].
    pub fn new(stop: &[String], first_answer: bool) -> Self {
        let mut markers: Vec<String> = stop.iter().filter(|s| !s.is_empty()).cloned().collect();
        if first_answer {
            markers.extend(FIRST_ANSWER_MARKERS.iter().map(|s| s.to_string()));
        }
        TextStop { markers, text: String::new(), released: 0, lead: None }
    }

    pub fn is_active(&self) -> bool {
        !self.markers.is_empty()
    }

    /// Adds a generated piece. Returns the text that may be released now and
    /// whether generation must stop (a marker was found; the text is cut before it).
    pub fn push(&mut self, piece: &str) -> (String, bool) {
        self.text.push_str(piece);
        if self.lead.is_none() {
            let trimmed = self.text.trim_start();
            if !trimmed.is_empty() {
                self.lead = Some(self.text.len() - trimmed.len());
            }
        }
        let Some(lead) = self.lead else {
            return (String::new(), false); // only whitespace so far: hold it
        };
        // A marker can start anywhere after the lead (the user's stop strings
        // too); search from where an unreleased marker could begin.
        let search_from = self.released.max(lead);
        let hay = &self.text[search_from..];
        let cut = self.markers.iter().filter_map(|m| hay.find(m.as_str()).map(|i| search_from + i)).min();
        if let Some(cut) = cut {
            self.text.truncate(cut);
            let out = self.text[self.released..].to_string();
            self.released = cut;
            return (out, true);
        }
        // Hold back the longest tail that could still become a marker.
        let hold = self.markers.iter().map(|m| partial_suffix(&self.text[search_from..], m)).max().unwrap_or(0);
        let upto = self.text.len() - hold;
        let out = self.text[self.released..upto].to_string();
        self.released = upto;
        (out, false)
    }

    /// The text not yet released (generation ended for another reason).
    pub fn finish(&mut self) -> String {
        let out = self.text[self.released..].to_string();
        self.released = self.text.len();
        out
    }

    /// The whole text kept, markers and what follows them removed.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Length of the longest proper prefix of `marker` that ends `text` (on a char boundary).
fn partial_suffix(text: &str, marker: &str) -> usize {
    let max = marker.len().saturating_sub(1).min(text.len());
    (1..=max)
        .rev()
        .find(|&n| text.is_char_boundary(text.len() - n) && marker.is_char_boundary(n) && text.ends_with(&marker[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&str], stop: &[&str], first: bool) -> (String, String, bool) {
        let stop: Vec<String> = stop.iter().map(|s| s.to_string()).collect();
        let mut t = TextStop::new(&stop, first);
        let mut streamed = String::new();
        let mut stopped = false;
        for p in pieces {
            let (out, s) = t.push(p);
            streamed.push_str(&out);
            if s {
                stopped = true;
                break;
            }
        }
        if !stopped {
            streamed.push_str(&t.finish());
        }
        (streamed, t.text().to_string(), stopped)
    }

    #[test]
    fn first_answer_ends_at_a_blank_line_or_a_new_question() {
        let (s, t, stop) = run(&["GIDAF est hébergé", " à Rennes.", "\n", "\nTu es un assistant"], &[], true);
        assert_eq!((s.as_str(), t.as_str(), stop), ("GIDAF est hébergé à Rennes.", "GIDAF est hébergé à Rennes.", true));
        let (s, _, stop) = run(&["Rennes.\nQues", "tion : Qui"], &[], true);
        assert_eq!((s.as_str(), stop), ("Rennes.", true));
        let (s, _, _) = run(&["Rennes.<start_of_turn>user"], &[], true);
        assert_eq!(s, "Rennes.");
    }

    #[test]
    fn leading_blank_lines_do_not_end_the_answer() {
        let (s, _, stop) = run(&["\n\n", "Oui.", "\n\nEt"], &[], true);
        assert_eq!((s.trim(), stop), ("Oui.", true));
    }

    #[test]
    fn a_partial_marker_is_held_back_then_released() {
        let stop: Vec<String> = vec![];
        let mut t = TextStop::new(&stop, true);
        assert_eq!(t.push("Ligne un.\n"), ("Ligne un.".to_string(), false));
        // "\nA" cannot start a marker: the newline is released with it.
        assert_eq!(t.push("Ligne deux."), ("\nLigne deux.".to_string(), false));
        assert_eq!(t.finish(), "");
        assert_eq!(t.text(), "Ligne un.\nLigne deux.");
    }

    #[test]
    fn user_stop_strings_and_no_rule() {
        let (s, _, stop) = run(&["un, deux, ", "STOP trois"], &["STOP"], false);
        assert_eq!((s.as_str(), stop), ("un, deux, ", true));
        let (s, _, stop) = run(&["a\n\nb"], &[], false);
        assert_eq!((s.as_str(), stop), ("a\n\nb", false));
        assert!(!TextStop::new(&[], false).is_active());
    }

    #[test]
    fn multibyte_text_is_never_split() {
        let (s, _, _) = run(&["é", "\u{2019}", "à"], &["\u{2019}x"], true);
        assert_eq!(s, "é\u{2019}à");
    }
}
