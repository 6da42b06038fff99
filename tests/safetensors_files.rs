//! The safetensors reader: valid single files, folders and sharded
//! checkpoints read back; every lying header gives a clear error naming the
//! file and the tensor.

use dyag::formats::safetensors::SafetensorsSet;
use dyag::quant::GgmlType;
use dyag::Error;
use std::path::{Path, PathBuf};

/// (name, dtype, shape, data) → a safetensors file, tensors laid out in order.
fn file_bytes(tensors: &[(&str, &str, &[u64], Vec<u8>)], metadata: Option<&str>) -> Vec<u8> {
    let mut entries = vec![];
    let mut data = vec![];
    if let Some(m) = metadata {
        entries.push(format!("\"__metadata__\":{m}"));
    }
    for (name, dtype, shape, bytes) in tensors {
        let begin = data.len();
        data.extend_from_slice(bytes);
        entries.push(format!("\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape:?},\"data_offsets\":[{begin},{}]}}", data.len()));
    }
    with_header(&format!("{{{}}}", entries.join(",")), &data)
}

/// A file with this exact header text (padded with spaces to 8 bytes) and data.
fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.as_bytes().to_vec();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut f = (h.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(&h);
    f.extend_from_slice(data);
    f
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Opens `path`, expecting an error whose message contains every needle.
#[track_caller]
fn expect_err(path: &Path, needles: &[&str]) -> Error {
    let err = SafetensorsSet::open(path).expect_err("expected an error, the checkpoint opened");
    let msg = err.to_string();
    for n in needles {
        assert!(msg.contains(n), "error {msg:?} does not contain {n:?}");
    }
    err
}

/// Writes a single-file checkpoint from a header and data and expects an error
/// that names the file and contains the needles.
#[track_caller]
fn bad_file(header: &str, data: &[u8], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "model.safetensors", &with_header(header, data));
    match expect_err(&p, needles) {
        Error::Format { path, .. } => assert_eq!(path, p),
        other => panic!("expected a format error, got {other:?}"),
    }
}

fn sample() -> Vec<(&'static str, &'static str, &'static [u64], Vec<u8>)> {
    vec![
        ("w", "F32", &[2, 3], f32s(&[1., 2., 3., 4., 5., 6.])),
        ("h", "F16", &[2], vec![0x00, 0x3c, 0x00, 0xc0]),
        ("b", "BF16", &[3], vec![0x80, 0x3f, 0x00, 0x40, 0x40, 0xc0]),
        ("ids", "I64", &[2], vec![0; 16]),
        ("scalar", "F32", &[], f32s(&[7.5])),
        ("none", "F32", &[0, 4], vec![]),
    ]
}

#[test]
fn single_file_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "x.safetensors", &file_bytes(&sample(), Some("{\"format\":\"pt\"}")));
    let s = SafetensorsSet::open(&p).unwrap();
    assert_eq!(s.names().collect::<Vec<_>>(), ["b", "h", "ids", "none", "scalar", "w"]);
    assert!(s.contains("w") && !s.contains("x"));
    let w = s.tensor("w").unwrap();
    assert_eq!((w.ty, w.shape.clone()), (GgmlType::F32, vec![2, 3]));
    assert_eq!(w.to_f32().unwrap(), vec![1., 2., 3., 4., 5., 6.]);
    assert_eq!(s.tensor("h").unwrap().to_f32().unwrap(), vec![1.0, -2.0]);
    let b = s.tensor("b").unwrap();
    assert_eq!((b.ty, b.to_f32().unwrap()), (GgmlType::BF16, vec![1.0, 2.0, -3.0]));
    assert_eq!(s.tensor("scalar").unwrap().to_f32().unwrap(), vec![7.5]);
    assert_eq!(s.tensor("none").unwrap().numel(), 0);
    assert_eq!(s.info("ids"), Some(("I64", &[2usize][..])));
    assert_eq!(s.metadata(None).unwrap().get("format").map(String::as_str), Some("pt"));
    match s.tensor("ids") {
        Err(Error::Tensor { name, msg }) => {
            assert_eq!(name, "ids");
            assert!(msg.contains("I64") && msg.contains("x.safetensors") && msg.contains("not supported"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    match s.tensor("missing") {
        Err(Error::Tensor { name, .. }) => assert_eq!(name, "missing"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn folders_and_shards() {
    // A folder with model.safetensors.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "model.safetensors", &file_bytes(&sample(), None));
    assert_eq!(SafetensorsSet::open(dir.path()).unwrap().len(), 6);

    // A sharded checkpoint with an index.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "model-00001-of-00002.safetensors", &file_bytes(&[("a", "F32", &[2], f32s(&[1., 2.]))], None));
    write(
        dir.path(),
        "model-00002-of-00002.safetensors",
        &file_bytes(&[("b", "F32", &[1], f32s(&[3.])), ("stray", "F32", &[1], f32s(&[9.]))], None),
    );
    let index = r#"{"metadata": {"total_size": 12}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#;
    write(dir.path(), "model.safetensors.index.json", index.as_bytes());
    let s = SafetensorsSet::open(dir.path()).unwrap();
    assert_eq!(s.names().collect::<Vec<_>>(), ["a", "b"], "only the tensors the index lists");
    assert_eq!(s.tensor("a").unwrap().to_f32().unwrap(), vec![1., 2.]);
    assert_eq!(s.tensor("b").unwrap().to_f32().unwrap(), vec![3.]);
    assert_eq!(s.files().count(), 2);

    // Loose shards without an index are merged...
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "part1.safetensors", &file_bytes(&[("a", "F32", &[1], f32s(&[1.]))], None));
    write(dir.path(), "part2.safetensors", &file_bytes(&[("b", "F32", &[1], f32s(&[2.]))], None));
    assert_eq!(SafetensorsSet::open(dir.path()).unwrap().names().collect::<Vec<_>>(), ["a", "b"]);
    // ...unless they define the same tensor.
    write(dir.path(), "part3.safetensors", &file_bytes(&[("a", "F32", &[1], f32s(&[3.]))], None));
    expect_err(dir.path(), &["part3.safetensors", "tensor 'a' is also in", "part1.safetensors"]);

    let empty = tempfile::tempdir().unwrap();
    expect_err(empty.path(), &["no model.safetensors.index.json"]);
}

#[test]
fn broken_indexes() {
    let shard = file_bytes(&[("a", "F32", &[1], f32s(&[1.]))], None);
    let case = |index: &str, needles: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "s1.safetensors", &shard);
        let idx = write(dir.path(), "model.safetensors.index.json", index.as_bytes());
        match expect_err(dir.path(), needles) {
            Error::Format { path, .. } => assert!(path == idx || path.ends_with("s1.safetensors"), "{path:?}"),
            other => panic!("{other:?}"),
        }
    };
    case("{not json", &["model.safetensors.index.json", "invalid JSON"]);
    case(r#"{"metadata": {}}"#, &["no \"weight_map\""]);
    case(r#"{"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}"#, &["shard 's2.safetensors'", "tensor 'b'", "missing"]);
    case(
        r#"{"weight_map": {"a": "s1.safetensors", "z": "s1.safetensors"}}"#,
        &["s1.safetensors", "tensor 'z'", "not present in this shard"],
    );
    case(r#"{"weight_map": {"a": "../s1.safetensors"}}"#, &["'../s1.safetensors' is not a plain file name"]);
    case(r#"{"weight_map": {"a": 3}}"#, &["weight_map entry 'a'"]);
    case(
        "{\"weight_map\": {\"a\": \"s1.safetensors\",\n\"a\": \"s2.safetensors\"}}",
        &["model.safetensors.index.json", "line 2: duplicate key \"a\" in weight_map (column 1)"],
    );
}

#[test]
fn lying_headers() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "tiny.safetensors", &[1, 2, 3]);
    expect_err(&p, &["tiny.safetensors", "too small"]);
    let mut f = 1000u64.to_le_bytes().to_vec();
    f.extend_from_slice(b"{}");
    let p = write(dir.path(), "long.safetensors", &f);
    expect_err(&p, &["long.safetensors", "header length 1000 runs past the end"]);

    let w = |b: u64, e: u64| format!("\"w\":{{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[{b},{e}]}}");
    bad_file("{\"w\": [1, 2", &[], &["not a valid JSON object"]);
    bad_file("[1, 2]", &[], &["not a valid JSON object"]);
    bad_file("{} x", &[], &["trailing characters"]);
    bad_file(&format!("{{{},{}}}", w(0, 8), w(0, 8)), &[0; 8], &["tensor 'w' appears twice"]);
    // Inside an entry or the metadata too (the last would silently win).
    bad_file(
        "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,8]}}",
        &[0; 8],
        &["duplicate key \"dtype\" in w (column 21)"],
    );
    bad_file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", &[], &["duplicate key \"a\" in __metadata__"]);
    bad_file("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", &[0; 8], &["tensor 'w'", "no \"dtype\""]);
    bad_file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", &[0; 8], &["tensor 'w'", "no \"shape\""]);
    bad_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", &[0; 8], &["tensor 'w'", "\"shape\" is not a list"]);
    bad_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", &[0; 8], &["tensor 'w'", "\"data_offsets\" is not a pair"]);
    bad_file("{\"w\":{\"dtype\":\"Q9\",\"shape\":[2],\"data_offsets\":[0,8]}}", &[0; 8], &["tensor 'w'", "unknown dtype \"Q9\""]);
    bad_file("{\"w\":7}", &[], &["tensor 'w'", "not an object"]);
    bad_file(&format!("{{{}}}", w(0, 80)), &[0; 8], &["tensor 'w'", "past the end of the file"]);
    bad_file(&format!("{{{}}}", w(8, 0)), &[0; 8], &["tensor 'w'", "end before they begin"]);
    bad_file(&format!("{{{}}}", w(0, 4)), &[0; 4], &["tensor 'w'", "4 bytes", "needs 8"]);
    bad_file(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
        &[0; 8],
        &["tensor 'w'", "no whole byte size"],
    );
    let v = |b: u64, e: u64| format!("\"v\":{{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[{b},{e}]}}");
    bad_file(&format!("{{{},{}}}", w(0, 8), v(4, 12)), &[0; 12], &["tensors 'w' and 'v' overlap"]);
    bad_file(&format!("{{{},{}}}", w(0, 8), v(12, 20)), &[0; 20], &["4 unused bytes", "hole", "between tensor 'w' and tensor 'v'"]);
    bad_file(&format!("{{{}}}", w(4, 12)), &[0; 12], &["between the start of the data and tensor 'w'"]);
    bad_file(&format!("{{{}}}", w(0, 8)), &[0; 12], &["cover 8 bytes", "holds 12", "trailing bytes after tensor 'w'"]);
    bad_file(&format!("{{\"__metadata__\":{{\"k\":1}},{}}}", w(0, 8)), &[0; 8], &["\"__metadata__\" entry 'k' is not a string"]);
    let mut f = with_header("{\"w\":1}", &[]);
    f[9] = 0xff;
    let p = write(dir.path(), "utf.safetensors", &f);
    expect_err(&p, &["utf.safetensors", "not valid UTF-8"]);
}

#[test]
fn shared_llama_fixture() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fixtures/llama/model/model.safetensors"));
    let s = SafetensorsSet::open(path).unwrap();
    assert_eq!(s.len(), 21);
    let k = s.tensor("model.layers.0.self_attn.k_proj.weight").unwrap();
    assert_eq!((k.ty, k.shape.clone()), (GgmlType::F32, vec![32, 64]));
    let v = k.to_f32().unwrap();
    // Values read with the Python safetensors package.
    assert_eq!(v[..3], [-0.01581431f32, -0.02780461, 0.0008484455]);
    assert_eq!(v[31 * 64 + 63], 0.010265331);
    let norm = s.tensor("model.norm.weight").unwrap().to_f32().unwrap();
    assert_eq!(norm[..2], [0.7724549f32, 1.2133172]);
    let sum: f64 = norm.iter().map(|&x| x as f64).sum();
    assert!((sum - 63.13948380947113).abs() < 1e-9);
    // The folder opens the same file.
    assert_eq!(SafetensorsSet::open(path.parent().unwrap()).unwrap().len(), 21);
}
