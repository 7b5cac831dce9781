//! The README lists every op from the definitions: each op of `OP_DEFS` has
//! a row in the pipeline table, each mixing op one in the mixing table, and
//! each op `apply` knows is named in the command-line section.

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn every_pipeline_op_has_a_row() {
    let text = readme();
    for d in gpu_augment::ops::OP_DEFS {
        assert!(
            text.contains(&format!("| `{}`", d.name)) || text.contains(&format!(", `{}`", d.name)),
            "README has no table row for `{}`",
            d.name
        );
        for k in d.keys {
            assert!(
                text.contains(&format!("`{}`", k.name)),
                "README never names key `{}` of `{}`",
                k.name,
                d.name
            );
        }
    }
    for d in gpu_augment::mix::MIX_DEFS {
        assert!(
            text.contains(&format!("| `{}`", d.name)),
            "no row for `{}`",
            d.name
        );
    }
}

#[test]
fn every_apply_op_is_named() {
    let text = readme();
    let start = text.find("- `apply` runs one op").expect("apply section");
    let section = &text[start..start + 2500];
    for o in gpu_augment::explicit::EXPLICIT_OPS {
        assert!(
            section.contains(o.name),
            "README's apply list lacks `{}`",
            o.name
        );
    }
}
