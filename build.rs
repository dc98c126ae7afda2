//! Ships `style/widget.css` without its comments and layout whitespace: the stylesheet
//! is compiled into the wasm, so every byte of it is downloaded by every host page
//! (about 0.3 KB gzip less). Quoted strings are copied as they are.

use std::{env, fs, path::Path};

const SOURCE: &str = "style/widget.css";

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    let css = fs::read_to_string(SOURCE).expect("style/widget.css is readable");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("widget.css");
    fs::write(out, minify(&css)).expect("OUT_DIR is writable");
}

/// Drops comments, collapses whitespace to one space, and removes it next to the
/// punctuation where CSS never needs it. Spaces elsewhere (descendant combinators,
/// `a b` values) stay, so selectors and values keep their meaning.
fn minify(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                pending_space = true;
            }
            c if c.is_whitespace() => pending_space = true,
            '"' | '\'' => {
                push_space(&mut out, &mut pending_space, c);
                out.push(c);
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == c {
                        break;
                    }
                }
            }
            c => {
                push_space(&mut out, &mut pending_space, c);
                out.push(c);
            }
        }
    }
    out
}

/// Writes a collapsed space before `next` unless punctuation on either side makes it
/// meaningless. A space after `:` only ever follows a property name or a media
/// feature (`a :hover` has it before), so it goes too. Spaces around commas stay:
/// in a custom property's value (`var(--x, #fff)`) they are part of the value.
fn push_space(out: &mut String, pending: &mut bool, next: char) {
    const TIGHT: &[char] = &['{', '}', ';', '>'];
    if std::mem::take(pending)
        && !out.is_empty()
        && !TIGHT.contains(&next)
        && !out.ends_with(TIGHT)
        && !out.ends_with(':')
    {
        out.push(' ');
    }
}
