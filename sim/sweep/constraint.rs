//! Sweep constraints: `LHS OP RHS` where each side is a dotted key or a number, e.g.
//! `pv.multipliers <= qk.multipliers` or `hbm.channels >= 4`.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Key(String),
    Number(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
}

/// A parsed constraint; points for which it is false are skipped and reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    text: String,
    lhs: Operand,
    op: Op,
    rhs: Operand,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Constraint {
    pub fn parse(text: &str) -> Result<Self, String> {
        // Two-character operators first so `<=` is not read as `<`.
        const OPS: [(&str, Op); 6] = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        for (sym, op) in OPS {
            if let Some((l, r)) = text.split_once(sym) {
                return Ok(Self {
                    text: text.trim().to_string(),
                    lhs: operand(l)?,
                    op,
                    rhs: operand(r)?,
                });
            }
        }
        Err(format!(
            "constraint {text:?} has no comparison (<, <=, ==, !=, >=, >)"
        ))
    }

    /// The dotted keys the constraint reads.
    pub fn keys(&self) -> Vec<&str> {
        [&self.lhs, &self.rhs]
            .into_iter()
            .filter_map(|o| match o {
                Operand::Key(k) => Some(k.as_str()),
                Operand::Number(_) => None,
            })
            .collect()
    }

    /// Evaluates with `lookup` resolving keys to numbers.
    pub fn holds(&self, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<bool, String> {
        let value = |o: &Operand| match o {
            Operand::Number(n) => Ok(*n),
            Operand::Key(k) => lookup(k)
                .ok_or_else(|| format!("constraint {:?}: `{k}` is not a number", self.text)),
        };
        let (a, b) = (value(&self.lhs)?, value(&self.rhs)?);
        Ok(match self.op {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Ge => a >= b,
            Op::Gt => a > b,
        })
    }
}

fn operand(s: &str) -> Result<Operand, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("constraint has an empty side".into());
    }
    if let Ok(n) = s.parse::<f64>() {
        return Ok(Operand::Number(n));
    }
    let valid = s
        .split('.')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if valid {
        Ok(Operand::Key(s.to_string()))
    } else {
        Err(format!("`{s}` is neither a number nor a dotted key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates() {
        let c = Constraint::parse("pv.multipliers <= qk.multipliers").unwrap();
        assert_eq!(c.keys(), vec!["pv.multipliers", "qk.multipliers"]);
        let look = |k: &str| match k {
            "pv.multipliers" => Some(256.0),
            "qk.multipliers" => Some(512.0),
            _ => None,
        };
        assert!(c.holds(&look).unwrap());
        assert!(
            !Constraint::parse("hbm.channels > 4")
                .unwrap()
                .holds(&|_| Some(4.0))
                .unwrap()
        );
        assert!(
            Constraint::parse("a == 4")
                .unwrap()
                .holds(&|_| Some(4.0))
                .unwrap()
        );
        assert!(Constraint::parse("x.y").is_err());
        assert!(Constraint::parse("a.b <= c-d").is_err());
        assert!(
            Constraint::parse("a <= b")
                .unwrap()
                .holds(&|_| None)
                .is_err()
        );
    }
}
