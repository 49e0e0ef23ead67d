//! Go's `path.Match`, for list patterns.

/// Go's `path.Match` for the patterns a charm uses: `*`, `?`, `[...]` classes, `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len())
            .take_while(|&i| i == 0 || n[i - 1] != '/')
            .any(|i| glob_at(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && n[0] != '/' && glob_at(&p[1..], &n[1..]),
        Some('[') => {
            let Some(c) = n.first() else { return false };
            let Some(end) = p.iter().skip(1).position(|&x| x == ']').map(|i| i + 1) else {
                return false;
            };
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut matched = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    matched |= class[i] <= *c && *c <= class[i + 2];
                    i += 3;
                } else {
                    matched |= class[i] == *c;
                    i += 1;
                }
            }
            matched != negate && glob_at(&p[end + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && glob_at(&p[2..], &n[1..]),
        Some(c) => n.first() == Some(c) && glob_at(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_go_path_match() {
        assert!(glob_match("*.rules", "a.rules"));
        assert!(!glob_match("*.rules", "a.yml"));
        assert!(glob_match("file_?.json", "file_1.json"));
        assert!(glob_match("[a-c]*", "beta"));
        assert!(!glob_match("[^a-c]*", "beta"));
    }
}
