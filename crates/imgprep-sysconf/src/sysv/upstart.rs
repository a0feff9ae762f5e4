//! upstart jobs (`/etc/init/*.conf`).

use crate::text::Lines;

/// The `start on` expression of an upstart job (joined over lines until its parentheses close).
pub fn start_on(lines: &Lines) -> Option<(usize, String)> {
    let mut it = lines.meaningful();
    while let Some((n, l)) = it.next() {
        let Some(rest) = l.strip_prefix("start on") else {
            continue;
        };
        let mut expr = rest.trim().to_owned();
        let depth = |s: &str| {
            s.chars().filter(|&c| c == '(').count() as i64
                - s.chars().filter(|&c| c == ')').count() as i64
        };
        let mut guard = 0;
        while depth(&expr) > 0 && guard < 64 {
            guard += 1;
            match it.next() {
                Some((_, more)) => {
                    expr.push(' ');
                    expr.push_str(more);
                }
                None => break,
            }
        }
        return Some((n, expr));
    }
    None
}
