//! Text as the tag rules see it: HTML stripped, entities decoded, lower case, punctuation
//! folded, split into words grouped by clause, so phrases match whole words only and a
//! negation never reaches across a comma or a full stop.

/// One word and the clause it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    pub text: &'a str,
    pub clause: u32,
}

/// A field's text prepared for matching; `words` borrow from `folded`.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    folded: String,
    /// (start, end, clause) of each word in `folded`.
    spans: Vec<(u32, u32, u32)>,
}

impl Folded {
    pub fn new(raw: &str) -> Folded {
        let mut folded = String::with_capacity(raw.len());
        let mut spans = Vec::new();
        let mut clause = 0u32;
        let mut word_start: Option<usize> = None;
        let mut chars = raw.char_indices().peekable();
        let close_word = |folded: &String,
                          start: &mut Option<usize>,
                          spans: &mut Vec<(u32, u32, u32)>,
                          clause: u32| {
            if let Some(s) = start.take() {
                spans.push((s as u32, folded.len() as u32, clause));
            }
        };
        while let Some((at, c)) = chars.next() {
            if c == '<' && looks_like_tag(&raw[at..]) {
                // A tag ends a word and, for block elements and <br>, a clause.
                let end = raw[at..].find('>').map_or(raw.len(), |e| at + e + 1);
                close_word(&folded, &mut word_start, &mut spans, clause);
                clause += 1;
                while chars.peek().is_some_and(|(i, _)| *i < end) {
                    chars.next();
                }
                continue;
            }
            let c = if c == '&' {
                match entity(&raw[at..]) {
                    Some((decoded, len)) => {
                        while chars.peek().is_some_and(|(i, _)| *i < at + len) {
                            chars.next();
                        }
                        decoded
                    }
                    None => c,
                }
            } else {
                c
            };
            if c.is_alphanumeric() || c == '£' || c == '+' {
                if word_start.is_none() {
                    folded.push(' ');
                    word_start = Some(folded.len());
                }
                if c.is_ascii() {
                    folded.push(c.to_ascii_lowercase());
                } else {
                    folded.extend(c.to_lowercase());
                }
            } else if matches!(c, '\'' | '’' | '‘') && word_start.is_some() {
                // "women's" -> "womens", "isn't" -> "isnt": one word, as people mean it.
            } else if c == '&' {
                close_word(&folded, &mut word_start, &mut spans, clause);
                folded.push_str(" and");
                spans.push(((folded.len() - 3) as u32, folded.len() as u32, clause));
            } else {
                close_word(&folded, &mut word_start, &mut spans, clause);
                if matches!(
                    c,
                    '.' | ',' | ';' | ':' | '!' | '?' | '\n' | '•' | '(' | ')' | '|'
                ) {
                    clause += 1;
                }
            }
        }
        close_word(&folded, &mut word_start, &mut spans, clause);
        Folded { folded, spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn word(&self, index: usize) -> Word<'_> {
        let (start, end, clause) = self.spans[index];
        Word {
            text: &self.folded[start as usize..end as usize],
            clause,
        }
    }

    /// The original-looking phrase for words `from..to`, for reasons.
    pub fn phrase(&self, from: usize, to: usize) -> String {
        (from..to)
            .map(|i| self.word(i).text)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Folds a rule's phrase the same way, into its words.
pub fn phrase_words(phrase: &str) -> Vec<String> {
    let folded = Folded::new(phrase);
    (0..folded.len())
        .map(|i| folded.word(i).text.to_owned())
        .collect()
}

fn looks_like_tag(rest: &str) -> bool {
    let mut chars = rest.chars().skip(1);
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '/' || c == '!')
        && rest.contains('>')
}

/// The common HTML entities seen in feeds, and how many bytes they span.
fn entity(rest: &str) -> Option<(char, usize)> {
    let end = rest.find(';').filter(|e| *e <= 8)?;
    let name = &rest[1..end];
    let decoded = match name {
        "amp" => '&',
        "nbsp" | "#160" => ' ',
        "quot" | "#34" => '"',
        "apos" | "#39" | "rsquo" | "lsquo" => '\'',
        "lt" => '<',
        "gt" => '>',
        "pound" | "#163" => '£',
        "ndash" | "mdash" => '-',
        _ => return None,
    };
    Some((decoded, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(raw: &str) -> Vec<(String, u32)> {
        let f = Folded::new(raw);
        (0..f.len())
            .map(|i| (f.word(i).text.to_owned(), f.word(i).clause))
            .collect()
    }

    #[test]
    fn html_entities_case_and_punctuation_fold_away() {
        let folded = words("<p>BEGINNERS&nbsp;WELCOME!!</p><p>Tea &amp; biscuits</p>");
        let texts: Vec<&str> = folded.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(texts, ["beginners", "welcome", "tea", "and", "biscuits"]);
        assert_ne!(folded[1].1, folded[2].1, "paragraphs are separate clauses");
    }

    #[test]
    fn apostrophes_join_hyphens_split_and_commas_end_clauses() {
        let folded = words("Women's-only, isn't it? Over 50+ & £3");
        let texts: Vec<&str> = folded.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(
            texts,
            ["womens", "only", "isnt", "it", "over", "50+", "and", "£3"]
        );
        assert_eq!(folded[1].1, 0);
        assert_eq!(folded[2].1, 1, "the comma starts a clause");
    }

    #[test]
    fn a_less_than_sign_is_not_a_tag() {
        let texts: Vec<String> = words("ages < 5 excluded")
            .into_iter()
            .map(|(w, _)| w)
            .collect();
        assert_eq!(texts, ["ages", "5", "excluded"]);
    }
}
