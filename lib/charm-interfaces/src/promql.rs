//! PromQL checks and Juju-topology label-matcher injection (what the Python library delegates
//! to cos-tool), on the `promql-parser` AST.

use promql_parser::label::{MatchOp, Matcher, Matchers};
use promql_parser::parser::{self, Expr, VectorSelector};

/// Parse an expression; the error is the parser's message.
pub(crate) fn check(expr: &str) -> Result<(), String> {
    parser::parse(expr).map(|_| ())
}

/// Add `name="value"` matchers to every vector selector of `expr` that has no matcher on
/// `name` yet (a provider's explicit matcher is kept). Matchers print sorted by label name. Returns the rewritten expression, or the
/// parse error.
pub(crate) fn inject_matchers(expr: &str, matchers: &[(String, String)]) -> Result<String, String> {
    let mut ast = parser::parse(expr)?;
    visit(&mut ast, &mut |vs| add_matchers(vs, matchers));
    let out = ast.to_string();
    // Never hand out something the parser itself would refuse.
    parser::parse(&out).map_err(|e| format!("rewritten expression {out:?} does not parse: {e}"))?;
    Ok(out)
}

fn add_matchers(vs: &mut VectorSelector, wanted: &[(String, String)]) {
    let add = |group: &mut Vec<Matcher>| {
        for (name, value) in wanted {
            if !group.iter().any(|m| &m.name == name) {
                group.push(Matcher::new(MatchOp::Equal, name, value));
            }
        }
    };
    let Matchers {
        matchers,
        or_matchers,
    } = &mut vs.matchers;
    if or_matchers.is_empty() {
        add(matchers);
    } else {
        or_matchers.iter_mut().for_each(add);
    }
}

fn visit(expr: &mut Expr, f: &mut dyn FnMut(&mut VectorSelector)) {
    match expr {
        Expr::Aggregate(a) => {
            visit(&mut a.expr, f);
            if let Some(p) = a.param.as_mut() {
                visit(p, f);
            }
        }
        Expr::Unary(u) => visit(&mut u.expr, f),
        Expr::Binary(b) => {
            visit(&mut b.lhs, f);
            visit(&mut b.rhs, f);
        }
        Expr::Paren(p) => visit(&mut p.expr, f),
        Expr::Subquery(s) => visit(&mut s.expr, f),
        Expr::VectorSelector(vs) => f(vs),
        Expr::MatrixSelector(ms) => f(&mut ms.vs),
        Expr::Call(c) => c.args.args.iter_mut().for_each(|a| visit(a, f)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo() -> Vec<(String, String)> {
        vec![
            ("juju_model".into(), "cos".into()),
            ("juju_application".into(), "app".into()),
        ]
    }

    #[test]
    fn injects_into_every_selector() {
        let got = inject_matchers(
            r#"sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.1"#,
            &topo(),
        )
        .unwrap();
        assert_eq!(
            got,
            r#"sum(rate(http_requests_total{code=~"5..",juju_application="app",juju_model="cos"}[5m])) / sum(rate(http_requests_total{juju_application="app",juju_model="cos"}[5m])) > 0.1"#
        );
    }

    #[test]
    fn keeps_explicit_matchers_and_scalars() {
        assert_eq!(
            inject_matchers(r#"up{juju_model="other"} < 1"#, &topo()).unwrap(),
            r#"up{juju_application="app",juju_model="other"} < 1"#
        );
        assert_eq!(
            inject_matchers("time() - foo_seconds > 600", &topo()).unwrap(),
            r#"time() - foo_seconds{juju_application="app",juju_model="cos"} > 600"#
        );
        assert_eq!(
            inject_matchers("absent(up)", &topo()).unwrap(),
            r#"absent(up{juju_application="app",juju_model="cos"})"#
        );
    }

    #[test]
    fn reports_parse_errors() {
        assert!(check("up <").is_err());
        assert!(inject_matchers("sum(", &topo()).is_err());
        assert!(check("max_over_time(x[5m:1m])").is_ok());
    }
}
