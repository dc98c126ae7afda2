//! The stylesheet minifier build.rs runs (also compiled into xtask's tests, which is
//! where its tests run: a build script has none of its own).

/// Drops comments, collapses whitespace to one space, and removes it next to the
/// punctuation where CSS never needs it. Spaces elsewhere (descendant combinators,
/// `a b` values) stay, so selectors and values keep their meaning. Strings and
/// backslash escapes are copied as they are.
pub fn minify(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        match c {
            // A comment is no whitespace: `.a/**/.b` is `.a.b`.
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            c if c.is_whitespace() => pending_space = true,
            '"' | '\'' => {
                push_space(&mut out, &mut pending_space, c);
                out.push(c);
                while let Some(inner) = chars.next() {
                    out.push(inner);
                    if inner == '\\' {
                        out.extend(chars.next());
                    } else if inner == c {
                        break;
                    }
                }
            }
            '\\' => {
                push_space(&mut out, &mut pending_space, c);
                out.push(c);
                out.extend(chars.next());
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
/// feature (`a :hover` has it before), so it goes too, unless the value is empty
/// (`--x: ;`). Spaces around commas stay: in a custom property's value
/// (`var(--x, #fff)`) they are part of the value.
fn push_space(out: &mut String, pending: &mut bool, next: char) {
    const TIGHT: &[char] = &['{', '}', ';', '>'];
    if !std::mem::take(pending) || out.is_empty() {
        return;
    }
    let empty_value = out.ends_with(':') && (next == ';' || next == '}');
    if empty_value || !(TIGHT.contains(&next) || out.ends_with(TIGHT) || out.ends_with(':')) {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::minify;

    #[test]
    fn layout_and_comments_go_meaning_stays() {
        let css = "/* head */\n.a  > .b ,\n.c :hover {\n  color: red;\n  margin: 0 auto;\n}\n";
        assert_eq!(minify(css), ".a>.b , .c :hover{color:red;margin:0 auto;}");
        assert_eq!(minify(".a/**/.b{}"), ".a.b{}");
        assert_eq!(
            minify("@media (min-width: 10px) { a { b: c } }"),
            "@media (min-width:10px){a{b:c}}"
        );
    }

    #[test]
    fn strings_escapes_and_custom_properties_are_copied() {
        assert_eq!(
            minify(r#"a::before { content: "a\"  /* b */ c"; }"#),
            r#"a::before{content:"a\"  /* b */ c";}"#
        );
        assert_eq!(minify(r"a { content: '\'  x' }"), r"a{content:'\'  x'}");
        assert_eq!(minify(r".a\:b  .c {}"), r".a\:b .c{}");
        assert_eq!(
            minify("a { --x: var(--y,  #fff); }"),
            "a{--x:var(--y, #fff);}"
        );
        // An empty custom property keeps the space that is its value.
        assert_eq!(minify("a { --x: ; --y:  }"), "a{--x: ;--y: }");
    }
}
