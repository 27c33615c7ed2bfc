//! The operators of PromQL as written: aggregations with their grouping, binary operators
//! with their vector matching. The parser reads them, the logical plan carries them and the
//! executor runs them (its behaviour lives beside its operators, in `exec`).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Quantile,
    Topk,
    Bottomk,
    Limitk,
    LimitRatio,
    CountValues,
}

impl Aggregation {
    /// The aggregation's name in PromQL.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Avg => "avg",
            Self::Count => "count",
            Self::Min => "min",
            Self::Max => "max",
            Self::Group => "group",
            Self::Stddev => "stddev",
            Self::Stdvar => "stdvar",
            Self::Quantile => "quantile",
            Self::Topk => "topk",
            Self::Bottomk => "bottomk",
            Self::Limitk => "limitk",
            Self::LimitRatio => "limit_ratio",
            Self::CountValues => "count_values",
        }
    }

    /// Whether a parameter comes before the expression (`topk(3, x)`).
    pub fn has_param(self) -> bool {
        matches!(
            self,
            Self::Quantile
                | Self::Topk
                | Self::Bottomk
                | Self::Limitk
                | Self::LimitRatio
                | Self::CountValues
        )
    }
}

/// `by (...)`, `without (...)` or neither.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grouping {
    By(Vec<String>),
    Without(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinaryKind {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            Self::Eq | Self::Ne | Self::Gt | Self::Lt | Self::Ge | Self::Le
        )
    }

    pub fn is_set(self) -> bool {
        matches!(self, Self::And | Self::Or | Self::Unless)
    }

    pub fn is_arithmetic(self) -> bool {
        !self.is_comparison() && !self.is_set()
    }

    /// The operator as written in PromQL.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
            Self::Pow => "^",
            Self::Atan2 => "atan2",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Lt => "<",
            Self::Ge => ">=",
            Self::Le => "<=",
            Self::And => "and",
            Self::Or => "or",
            Self::Unless => "unless",
        }
    }
}

/// How series of two vectors pair up.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorMatching {
    /// `on(...)` when true, `ignoring(...)` (or nothing) when false.
    pub on: bool,
    pub labels: Vec<String>,
    pub card: Cardinality,
    /// `group_left(...)`/`group_right(...)` labels copied from the "one" side.
    pub include: Vec<String>,
    /// `fill_left(v)`/`fill_right(v)`: the value of a missing operand. "Left" is the many
    /// side (the right operand under `group_right`: Prometheus swaps operands for it).
    pub fill_many: Option<f64>,
    pub fill_one: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cardinality {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

impl Default for VectorMatching {
    fn default() -> Self {
        Self {
            on: false,
            labels: Vec::new(),
            card: Cardinality::OneToOne,
            include: Vec::new(),
            fill_many: None,
            fill_one: None,
        }
    }
}
