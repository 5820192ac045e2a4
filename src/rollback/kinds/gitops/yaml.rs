//! One scalar in a block-style YAML file, found by a dotted key (`image.tag`,
//! `spec.template.spec.containers[0].image`) and replaced in place: every other byte of the file
//! (comments, order, quoting, other documents) stays as written, so the commit's diff is one line.

/// One step of a key: a mapping key, or an item of a block sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// `a.b[0].c` → [Key a, Key b, Index 0, Key c].
pub fn parse_key(key: &str) -> Result<Vec<Seg>, String> {
    let bad = || {
        format!(
            "key `{key}` is not a dotted YAML key such as `image.tag` or `spec.template.spec.containers[0].image`"
        )
    };
    let mut out = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() || name.contains([']', ' ', ':', '#']) {
            return Err(bad());
        }
        out.push(Seg::Key(name.to_string()));
        while !rest.is_empty() {
            let end = rest.find(']').ok_or_else(bad)?;
            let n: usize = rest[1..end].parse().map_err(|_| bad())?;
            out.push(Seg::Index(n));
            rest = &rest[end + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad());
            }
        }
    }
    Ok(out)
}

/// Where a scalar value is: its byte range in the text, and its quote character.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    start: usize,
    end: usize,
    quote: Option<char>,
}

/// The scalar at `segs`, unquoted.
pub fn get(text: &str, segs: &[Seg]) -> Option<String> {
    let f = find(text, segs)?;
    let raw = &text[f.start..f.end];
    Some(match f.quote {
        Some(_) => raw[1..raw.len() - 1].to_string(),
        None => raw.to_string(),
    })
}

/// The text with the scalar at `segs` replaced by `value`, in the quoting it had (a plain value
/// that would not read back as the same string is double-quoted).
pub fn set(text: &str, segs: &[Seg], value: &str) -> Result<String, String> {
    let f = find(text, segs).ok_or("the key is not in the file as a block-style scalar")?;
    let needs_quotes = value.is_empty()
        || value.starts_with(|c: char| "!&*{}[]|>'\"%@`#,?:-".contains(c) || c == ' ')
        || value.contains(": ")
        || value.contains(" #")
        || value.ends_with(' ');
    let written = match f.quote {
        Some('\'') => format!("'{}'", value.replace('\'', "''")),
        Some(_) => format!("\"{}\"", escape(value)),
        None if needs_quotes => format!("\"{}\"", escape(value)),
        None => value.to_string(),
    };
    if value.contains(['\n', '\r']) {
        return Err("the value has a line break".into());
    }
    Ok(format!("{}{written}{}", &text[..f.start], &text[f.end..]))
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A frame of the path to the current line: its column and what it is.
struct Frame {
    col: usize,
    seg: Seg,
    /// The line that opened it: sequences are counted per parent.
    line: usize,
}

fn find(text: &str, want: &[Seg]) -> Option<Found> {
    let mut stack: Vec<Frame> = Vec::new();
    // The last index of each sequence: (its parent's line, its column) → index.
    let mut items: std::collections::HashMap<(usize, usize), usize> = Default::default();
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let at = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let col = body.len() - body.trim_start_matches(' ').len();
        let rest = &body[col..];
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        if col == 0 && (rest.starts_with("---") || rest.starts_with("...")) {
            stack.clear();
            items.clear();
            continue;
        }
        let mut col = col;
        let mut rest = rest;
        if rest == "-" || rest.starts_with("- ") {
            while stack
                .last()
                .is_some_and(|f| f.col > col || (f.col == col && matches!(f.seg, Seg::Index(_))))
            {
                stack.pop();
            }
            let parent = stack.last().map_or(usize::MAX, |f| f.line);
            let index = items.get(&(parent, col)).map_or(0, |i| i + 1);
            items.insert((parent, col), index);
            stack.push(Frame {
                col,
                seg: Seg::Index(index),
                line: n,
            });
            let after = rest[1..].trim_start_matches(' ');
            let inner = rest.len() - after.len();
            col += inner;
            rest = after;
            if rest.is_empty() || rest.starts_with('#') {
                continue;
            }
            if split_key(rest).is_none() {
                // A scalar item: `- value`.
                if path_is(&stack, want) {
                    return scalar(line, at + col, rest);
                }
                continue;
            }
        } else {
            while stack.last().is_some_and(|f| f.col >= col) {
                stack.pop();
            }
        }
        let Some((key, value_at)) = split_key(rest) else {
            continue;
        };
        let value = rest[value_at..].trim_start_matches(' ');
        let value_col = col + rest.len() - value.len();
        stack.push(Frame {
            col,
            seg: Seg::Key(key),
            line: n,
        });
        if value.is_empty() || value.starts_with('#') {
            // A nested block follows; its frame stays.
            continue;
        }
        if path_is(&stack, want) {
            return scalar(line, at + value_col, value);
        }
        stack.pop();
    }
    None
}

fn path_is(stack: &[Frame], want: &[Seg]) -> bool {
    stack.len() == want.len() && stack.iter().zip(want).all(|(f, w)| f.seg == *w)
}

/// `key: …` → (the key unquoted, where the value starts in `rest`).
fn split_key(rest: &str) -> Option<(String, usize)> {
    let (key, after) = if let Some(q @ ('"' | '\'')) = rest.chars().next() {
        let end = rest[1..].find(q)? + 1;
        (rest[1..end].to_string(), end + 1)
    } else {
        let i = rest.find(':')?;
        (rest[..i].trim_end().to_string(), i)
    };
    let tail = &rest[after..];
    let colon = tail.strip_prefix(':')?;
    if !(colon.is_empty() || colon.starts_with(' ')) || key.is_empty() {
        return None;
    }
    Some((key, after + 1))
}

/// The scalar starting at byte `start` of the text (`value` is the line from there): a quoted
/// string to its closing quote, a plain one to a comment or the end of the line. Block scalars
/// and flow collections are not edited.
fn scalar(line: &str, start: usize, value: &str) -> Option<Found> {
    let _ = line;
    let first = value.chars().next()?;
    if matches!(first, '|' | '>' | '{' | '[' | '&' | '*' | '!') {
        return None;
    }
    if first == '"' || first == '\'' {
        let mut end = None;
        let mut chars = value.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            if first == '"' && c == '\\' {
                chars.next();
                continue;
            }
            if c == first {
                if first == '\'' && value[i + 1..].starts_with('\'') {
                    chars.next();
                    continue;
                }
                end = Some(i + 1);
                break;
            }
        }
        let end = end?;
        return Some(Found {
            start,
            end: start + end,
            quote: Some(first),
        });
    }
    let len = value.find(" #").unwrap_or(value.len());
    let len = value[..len].trim_end().len();
    Some(Found {
        start,
        end: start + len,
        quote: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: &str = "# recsys\nimage:\n  repository: reg/ms   # the registry\n  tag: \"v3\"\nmodel:\n  version: 7\n";

    const MANIFEST: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ms\nspec:\n  template:\n    spec:\n      containers:\n      - name: sidecar\n        image: reg/side:1\n      - name: ms\n        env:\n        - name: MODEL_VERSION\n          value: '5'\n        image: reg/ms:v3 # bumped by CI\n---\nkind: Service\nspec:\n  template: {}\n";

    fn k(s: &str) -> Vec<Seg> {
        parse_key(s).unwrap()
    }

    #[test]
    fn reads_and_writes_nested_keys_keeping_the_rest() {
        assert_eq!(get(VALUES, &k("image.tag")).as_deref(), Some("v3"));
        assert_eq!(
            get(VALUES, &k("image.repository")).as_deref(),
            Some("reg/ms")
        );
        assert_eq!(get(VALUES, &k("model.version")).as_deref(), Some("7"));
        let out = set(VALUES, &k("image.tag"), "v2").unwrap();
        assert_eq!(out, VALUES.replace("\"v3\"", "\"v2\""));
        let out = set(VALUES, &k("model.version"), "6").unwrap();
        assert_eq!(out, VALUES.replace("version: 7", "version: 6"));
        assert_eq!(get(VALUES, &k("tag")), None);
        assert_eq!(get(VALUES, &k("image")), None, "a mapping is not a scalar");
    }

    #[test]
    fn follows_sequence_items_and_stops_at_the_first_document() {
        let img = k("spec.template.spec.containers[1].image");
        assert_eq!(get(MANIFEST, &img).as_deref(), Some("reg/ms:v3"));
        assert_eq!(
            get(MANIFEST, &k("spec.template.spec.containers[0].image")).as_deref(),
            Some("reg/side:1")
        );
        assert_eq!(
            get(
                MANIFEST,
                &k("spec.template.spec.containers[1].env[0].value")
            )
            .as_deref(),
            Some("5")
        );
        let out = set(MANIFEST, &img, "reg/ms:v2").unwrap();
        assert_eq!(out, MANIFEST.replace("reg/ms:v3 #", "reg/ms:v2 #"));
        let out = set(
            MANIFEST,
            &k("spec.template.spec.containers[1].env[0].value"),
            "4",
        )
        .unwrap();
        assert_eq!(out, MANIFEST.replace("'5'", "'4'"));
        assert_eq!(
            get(MANIFEST, &k("spec.template.spec.containers[2].image")),
            None
        );
    }

    #[test]
    fn a_value_that_would_read_back_otherwise_is_quoted() {
        let out = set("a: b\n", &k("a"), "- x").unwrap();
        assert_eq!(out, "a: \"- x\"\n");
        assert_eq!(get(&out, &k("a")).as_deref(), Some("- x"));
        assert!(set("a: b\n", &k("a"), "x\ny").is_err());
    }

    #[test]
    fn bad_keys_are_refused() {
        for bad in ["", "a..b", "a[x]", "a[0", "a[0]b", "a b"] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_key("a[0][1].b").unwrap(),
            [
                Seg::Key("a".into()),
                Seg::Index(0),
                Seg::Index(1),
                Seg::Key("b".into())
            ]
        );
    }
}
