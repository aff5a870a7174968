//! Replays one input on a target: `replay TARGET HEX`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (target, _) = stack_fuzz::target(&args[0]).expect("a target");
    let hex = &args[1];
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    target(&bytes);
    println!("no invariant broken");
}
