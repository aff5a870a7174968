//! The shipped configuration files parse, validate, and say what they
//! claim to say.

use stack::EngineConfig;

#[test]
fn engine_toml_spells_out_exactly_the_defaults() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../configs/engine.toml"
    ))
    .unwrap();
    let config: EngineConfig = toml::from_str(&text).expect("configs/engine.toml parses");
    config.validate().expect("and is valid");
    assert_eq!(config, EngineConfig::default());
}

#[test]
fn a_bad_value_names_its_key() {
    let err = toml::from_str::<EngineConfig>("[tcp]\nrto_min_ms = \"fast\"\n").unwrap_err();
    assert!(err.to_string().contains("rto_min_ms"), "{err}");
    let mut config: EngineConfig = toml::from_str("[tcp]\nrto_min_ms = 0\n").unwrap();
    assert_eq!(config.validate().unwrap_err().field, "tcp.rto_min_ms");
    config.tcp.rto_min = std::time::Duration::from_millis(200);
    config.validate().unwrap();
}
