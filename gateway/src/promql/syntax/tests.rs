use super::*;

fn printed(query: &str) -> String {
    parse(query)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .to_string()
}

fn error(query: &str) -> String {
    match parse(query) {
        Ok(e) => panic!("{query} parsed as {e}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn precedence_and_associativity_as_prometheus() {
    for (query, want) in [
        ("1 + 2 * 3", "1 + 2 * 3"),
        ("-2 ^ 2", "-2 ^ 2"),
        ("2 ^ 3 ^ 2", "2 ^ 3 ^ 2"),
        ("a or b and c unless d", "a or b and c unless d"),
        ("sum(rate(x[5m]))by(job)", "sum by (job) (rate(x[5m]))"),
        ("a + on(x) group_left b", "a + on (x) group_left () b"),
        ("a == bool ignoring(i) b", "a == bool ignoring (i) b"),
        (
            "a + fill_left(5) fill_right(7) b",
            "a + fill_left(5) fill_right(7) b",
        ),
        ("foo offset 5m @ 100", "foo @ 100.000 offset 5m"),
        (
            "foo @ 1m40s + start() - end()",
            "foo @ 100.000 + start() - end()",
        ),
        ("a + fill(0) fill", "a + fill(0) fill"),
        ("foo[5m:] offset -1h", "foo[5m:] offset -1h"),
        (
            "x{a=~'b', \"c.d\"!=`e\\f`}",
            "x{a=~\"b\", \"c.d\"!=\"e\\\\f\"}",
        ),
        ("{\"my.metric\", a=\"b\"}", "{\"my.metric\", a=\"b\"}"),
        ("topk(3, x) by (a)", "topk by (a) (3, x)"),
        ("0x1F + 010 + .5 + 1e3 - Inf", "31 + 8 + 0.5 + 1000 - Inf"),
        ("foo[2m*(10+5)]", "foo[2m * (10 + 5)]"),
        ("foo offset step()*2", "foo offset step() * 2"),
        (
            "rate(foo[5m] anchored offset 1m)",
            "rate(foo[5m] anchored offset 1m)",
        ),
        ("foo smoothed + anchored", "foo smoothed + anchored"),
    ] {
        assert_eq!(printed(query), want, "{query}");
    }
    // -2 ^ 2 is -(2 ^ 2); 1 - -1 folds the sign into the number.
    let tree = parse("-2 ^ 2").unwrap();
    assert!(matches!(tree.kind, ExprKind::Unary { negate: true, .. }));
    let tree = parse("1 - -1").unwrap();
    let ExprKind::Binary(b) = tree.kind else {
        panic!()
    };
    assert!(matches!(
        b.rhs.kind,
        ExprKind::Number(NumberLiteral { value: -1.0, .. })
    ));
}

#[test]
fn what_prints_parses_back_to_the_same_tree() {
    for query in [
        "sum without (a, b) (rate(x{y!~\"z.*\"}[5m] offset 1m @ end()))",
        "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
        "max_over_time(deriv(x[5m])[1h:30s] @ 1500.5)",
        "label_replace(up, \"dst\", \"$1\", \"src\", \"(.*)\")",
        "a / on (x) group_right (y, z) fill(0) b",
        "count_values(\"v\", x) > bool 3",
        "-(x) + +y",
    ] {
        let first = parse(query).unwrap();
        let second = parse(&first.to_string()).unwrap();
        assert_eq!(first.to_string(), second.to_string(), "{query}");
    }
}

/// Each message and position as Prometheus 2.42 answers the same query.
#[test]
fn errors_word_for_word_as_prometheus() {
    for (query, want) in [
        ("sum(", "1:5: parse error: unclosed left parenthesis"),
        ("1+", "1:3: parse error: unexpected end of input"),
        (
            "foo{",
            "1:5: parse error: unexpected end of input inside braces",
        ),
        ("1)", "1:3: parse error: unexpected right parenthesis ')'"),
        (
            "sum by (foo) bar",
            "1:14: parse error: unexpected identifier \"bar\" in aggregation",
        ),
        (
            "foo offset",
            "1:11: parse error: unexpected end of input in offset, expected duration",
        ),
        (
            "foo @",
            "1:6: parse error: unexpected end of input in @, expected timestamp",
        ),
        (
            "{}",
            "1:1: parse error: vector selector must contain at least one non-empty matcher",
        ),
        (
            "foo{__name__=\"bar\"}",
            "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"",
        ),
        (
            "rate(foo)",
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
        ),
        (
            "foo(1)",
            "1:1: parse error: unknown function with name \"foo\"",
        ),
        (
            "sum(1,2)",
            "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2",
        ),
        (
            "1 > 2",
            "1:3: parse error: comparisons between scalars must use BOOL modifier",
        ),
        (
            "foo and 1",
            "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
        ),
        (
            "foo[5m:1m][1m]",
            "1:11: parse error: ranges only allowed for vector selectors",
        ),
        (
            "\"a\" + 1",
            "1:1: parse error: binary expression must contain only scalar and instant vector types",
        ),
        (
            "x @ 1 @ 2",
            "1:1: parse error: @ <timestamp> may not be set multiple times",
        ),
        (
            "x offset 1m offset 2m",
            "1:1: parse error: offset may not be set multiple times",
        ),
        (
            "1 offset 1m",
            "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
        ),
        (
            "rate(foo[5m],)",
            "1:13: parse error: trailing commas not allowed in function call args",
        ),
        (
            "1e",
            "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e\": invalid syntax",
        ),
        (
            "foo[1.5m]",
            "1:5: parse error: not a valid duration string: \"1.5m\"",
        ),
        (
            "foo[0s]",
            "1:5: parse error: duration must be greater than 0",
        ),
        (
            "foo offset 0s",
            "1:12: parse error: duration must be greater than 0",
        ),
        (
            "sum(foo) by (a:b)",
            "1:14: parse error: unexpected metric identifier \"a:b\" in grouping opts, expected label",
        ),
        (
            "rate(foo[5m] bar)",
            "1:14: parse error: unexpected identifier \"bar\"",
        ),
        (
            "{a=b}",
            "1:4: parse error: unexpected identifier \"b\" in label matching, expected string",
        ),
        (
            "{a}",
            "1:3: parse error: unexpected \"}\" in label matching, expected label matching operator",
        ),
        (
            "{a=\"b\" c=\"d\"}",
            "1:8: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\"",
        ),
        (
            "count_values(1, foo)",
            "1:14: parse error: expected type string in aggregation parameter, got scalar",
        ),
        (
            "topk(\"a\", foo)",
            "1:6: parse error: expected type scalar in aggregation parameter, got string",
        ),
        (
            "a + group_left b",
            "1:5: parse error: unexpected <group_left>",
        ),
        (
            "a and on(x) group_left(y) b",
            "1:1: parse error: no grouping allowed for \"and\" operation",
        ),
        (
            "-\"a\"",
            "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\"",
        ),
        (
            "foo[5m]+1",
            "1:1: parse error: binary expression must contain only scalar and instant vector types",
        ),
        (
            "vector(1) == bool on(a) 1",
            "1:1: parse error: vector matching only allowed between instant vectors",
        ),
        (
            "label_replace(x, \"a\")",
            "1:1: parse error: expected 5 argument(s) in call to \"label_replace\", got 2",
        ),
        (
            "round()",
            "1:1: parse error: expected at least 1 argument(s) in call to \"round\", got 0",
        ),
        (
            "round(x,1,2)",
            "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3",
        ),
        (
            "foo @ start",
            "1:12: parse error: unexpected end of input in @, expected timestamp",
        ),
        (
            "x offset 5m[5m]",
            "1:12: parse error: no offset modifiers allowed before range",
        ),
        (
            "x @ 5 [5m]",
            "1:7: parse error: no @ modifiers allowed before range",
        ),
        (
            "sum(x) offset 5m",
            "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
        ),
        (
            "foo[5m] offset",
            "1:15: parse error: unexpected end of input in offset, expected duration",
        ),
        (
            "sum by",
            "1:7: parse error: unexpected end of input in grouping opts, expected \"(\"",
        ),
        (
            "sum(a) by (a b)",
            "1:14: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\"",
        ),
        (
            "foo @ Inf",
            "1:1: parse error: timestamp out of bounds for @ modifier: +Inf",
        ),
        ("foo bar", "1:5: parse error: unexpected identifier \"bar\""),
        (
            "\"a\" \"b\"",
            "1:5: parse error: unexpected string \"\\\"b\\\"\"",
        ),
        (
            "foo\n  + )",
            "2:6: parse error: unexpected right parenthesis ')'",
        ),
    ] {
        assert_eq!(error(query), want, "{query}");
    }
}

/// Regexes in matchers have Go's syntax and limits, refused in its words (as a live
/// Prometheus 3.5 answered these).
#[test]
fn regex_errors_word_for_word_as_prometheus_3_5() {
    for (query, want) in [
        (
            r#"up{a=~"x**"}"#,
            "1:4: parse error: error parsing regexp: invalid nested repetition operator: `**`",
        ),
        (
            r#"up{a=~"x{1001}"}"#,
            "1:4: parse error: error parsing regexp: invalid repeat count: `{1001}`",
        ),
        (
            r#"up{a=~"x{2,1}"}"#,
            "1:4: parse error: error parsing regexp: invalid repeat count: `{2,1}`",
        ),
        (
            r#"up{a=~"\\C"}"#,
            "1:4: parse error: error parsing regexp: invalid escape sequence: `\\C`",
        ),
        (
            r#"{job=~"("}"#,
            "1:2: parse error: error parsing regexp: missing closing ): `(`",
        ),
        (
            r#"up{a!~"a)"}"#,
            "1:4: parse error: error parsing regexp: unexpected ): `a)`",
        ),
    ] {
        assert_eq!(error(query), want, "{query}");
    }
    for fine in [r#"up{a=~"x{1000}"}"#, r#"up{a=~"(x*)*"}"#, r#"up{a=~"^*"}"#] {
        assert!(super::parse(fine).is_ok(), "{fine}");
    }
}

#[test]
fn strings_unquote_as_go_does() {
    let value = |s: &str| unquote(s).map(|l| l.value);
    assert_eq!(value(r#""a\tb\"c\x41\u00e9\101""#).unwrap(), "a\tb\"cAéA");
    assert_eq!(value(r"'it\'s'").unwrap(), "it's");
    assert_eq!(value(r"`raw\.`").unwrap(), r"raw\.");
    assert_eq!(
        value(r#""\q""#).unwrap_err(),
        "unknown escape sequence U+0071 'q'"
    );
    // A byte escape that is not UTF-8 reads as the replacement character.
    let literal = unquote(r#""a\xc5z""#).unwrap();
    assert_eq!(literal.value, "a\u{fffd}z");
    assert_eq!(quote_bytes(&literal.not_utf8.unwrap()), r#""a\xc5z""#);
}

#[test]
fn numbers_and_durations() {
    assert_eq!(parse_number("0x1f"), Ok(31.0));
    assert_eq!(parse_number("010"), Ok(8.0));
    assert_eq!(parse_number("09"), Ok(9.0));
    assert!(parse_number("NaN").unwrap().is_nan());
    assert_eq!(parse_number("5."), Ok(5.0));
    assert!(parse_number("0x").is_err());
    assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
    assert_eq!(parse_duration("1d1ms"), Ok(86_400_001));
    assert!(parse_duration("5m1h").is_err());
    assert!(parse_duration("1hs").is_err());
    assert!(parse_duration("").is_err());
}

#[test]
fn series_selectors_alone() {
    let vs = parse_selector("up{job=\"a\"}").unwrap();
    assert_eq!(vs.matchers.len(), 2);
    assert_eq!(
        parse_selector("sum(x)").unwrap_err().to_string(),
        "1:4: parse error: unexpected \"(\""
    );
    assert!(parse_selector("{a=\"\"}").is_err());
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let query = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(error(&query).contains("nests too deeply"));
    let query = format!("{}1", "-".repeat(10_000));
    assert!(error(&query).contains("nests too deeply"));
    // Trees grow deep without the parser recursing, too.
    let query = vec!["up"; 100_000].join(" + ");
    assert!(error(&query).contains("nests too deeply"));
    let query = format!("up{}", "[1m:]".repeat(10_000));
    assert!(error(&query).contains("nests too deeply"));
    let query = format!("up[{}1m]", "1m+".repeat(10_000));
    assert!(error(&query).contains("nests too deeply"));
    // Just below the limit: parsed, checked and printed on a runtime-sized stack.
    for query in [
        format!("{}x{}", "abs(".repeat(120), ")".repeat(120)),
        vec!["x"; 120].join(" + "),
        format!("{}x{}", "max_over_time(".repeat(60), "[1m:])".repeat(60)),
    ] {
        let printed = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || parse(&query).map(|e| e.to_string()))
            .unwrap()
            .join()
            .unwrap();
        assert!(printed.is_ok(), "{printed:?}");
    }
}
