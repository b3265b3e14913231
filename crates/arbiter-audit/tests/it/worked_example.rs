//! The worked example of docs/audit-log.md, computed independently with
//! Python's hashlib and OpenSSL's Ed25519 (values below), must be what this
//! crate produces; the example export in the document must be exactly what
//! the writer emits and must verify.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_audit::merkle::leaf_hash;
use arbiter_audit::{
    canonical_json, checkpoint_message, payload_digest, verify_reader, AuditSigningKey, ChainHead,
    Digest, ExportHeader, ExportWriter, MerkleFrontier, NewEntry, Timestamp, VerifyOptions,
};
use serde_json::json;

// From the independent computation (Python 3 hashlib, `openssl pkeyutl -sign -rawin`).
const PAYLOAD_1: &str = r#"{"change_request":42,"plan_sha256":"5d41402abc4b2a76b9719d911017c592","stack":"payments-prod"}"#;
const PAYLOAD_DIGEST_1: &str = "38d6b31ff8eb90dc350b8d3d6c76fe2445c0de403a4422127e25935cc9d06687";
const HASH_1: &str = "b70e70e5fd2738dd172fc30f61f634a26665acb76a2d6ab00003ea05735e6eb7";
const PAYLOAD_2: &str = r#"{"change_request":42,"confidence":97.5,"decision":"approve"}"#;
const PAYLOAD_DIGEST_2: &str = "31f4de671d9d19d934e4e055763685010f17bca7603b094316263c48ff0f59e0";
const HASH_2: &str = "bd0b436059279eb712bf2615ef29f69bb72d629b2b0d1547b992fa27c731856a";
const LEAF_1: &str = "1de9bf4eec0c7bb016f68959245fc1705d6269d6e5da3e61f02448573be84826";
const LEAF_2: &str = "de970c07622a9072e7319b142b1b58d5493cc06bb9bb2fb2a11eb0a5af2a55bb";
const ROOT_2: &str = "f18c14d230fd0626feef100440722728076027a9a263617e66d4f9d33e7cfb0b";
const KEY_ID: &str = "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9";
const SIGNATURE: &str =
    "V5M+Jrjl3My/zUEkBiOaxzuaWEXOPbKVburXJ9zQz/7BNcbzJD6P6/8N/ig+p60y5p7dAp3SaT8+7e3y0AWlBA==";
const HASH_INPUT_1: &str = "617262697465722e61756469742e656e7472792e763100000000000000000100000018323032352d30332d30315431323a30303a30302e3030305a0000000c6167656e743a63692d626f74000000186368616e67655f726571756573742e7375626d6974746564000000116368616e67655f726571756573743a343238d6b31ff8eb90dc350b8d3d6c76fe2445c0de403a4422127e25935cc9d066870000000000000000000000000000000000000000000000000000000000000000";
const CHECKPOINT_MESSAGE: &str = "617262697465722e61756469742e636865636b706f696e742e7631000000000000000002bd0b436059279eb712bf2615ef29f69bb72d629b2b0d1547b992fa27c731856af18c14d230fd0626feef100440722728076027a9a263617e66d4f9d33e7cfb0b00000018323032352d30332d30315431323a30303a30352e3030305a0000004032316665333164666131353461323631363236626638353430343666643232373162376265643462366162653435616135383837376566343766393732316239";

/// RFC 8032 §7.1 test 1 key, as PKCS#8 PEM.
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn example_export() -> String {
    let key = AuditSigningKey::from_pkcs8_pem(KEY_PEM).unwrap();
    let p1 = json!({"stack": "payments-prod", "change_request": 42, "plan_sha256": "5d41402abc4b2a76b9719d911017c592"});
    let p2 = json!({"decision": "approve", "confidence": 97.5, "change_request": 42});
    assert_eq!(canonical_json(&p1).unwrap(), PAYLOAD_1);
    assert_eq!(canonical_json(&p2).unwrap(), PAYLOAD_2);
    let e1 = ChainHead::GENESIS
        .next(NewEntry {
            time: Timestamp::parse("2025-03-01T12:00:00.000Z").unwrap(),
            actor: "agent:ci-bot".into(),
            action: "change_request.submitted".into(),
            subject: "change_request:42".into(),
            payload_digest: payload_digest(&p1).unwrap(),
        })
        .unwrap();
    let e2 = e1
        .head()
        .next(NewEntry {
            time: Timestamp::parse("2025-03-01T12:00:01.250Z").unwrap(),
            actor: "system".into(),
            action: "change_request.evaluated".into(),
            subject: "change_request:42".into(),
            payload_digest: payload_digest(&p2).unwrap(),
        })
        .unwrap();
    assert_eq!(e1.payload_digest.to_hex(), PAYLOAD_DIGEST_1);
    assert_eq!(e2.payload_digest.to_hex(), PAYLOAD_DIGEST_2);
    assert_eq!(e1.hash.to_hex(), HASH_1);
    assert_eq!(e2.hash.to_hex(), HASH_2);
    assert_eq!(e1.leaf_hash().to_hex(), LEAF_1);
    assert_eq!(leaf_hash(e2.hash.as_bytes()).to_hex(), LEAF_2);
    // The hash input of entry 1, byte for byte.
    let mut input = Vec::new();
    input.extend_from_slice(b"arbiter.audit.entry.v1\0");
    input.extend_from_slice(&1u64.to_be_bytes());
    for s in [
        "2025-03-01T12:00:00.000Z",
        "agent:ci-bot",
        "change_request.submitted",
        "change_request:42",
    ] {
        input.extend_from_slice(&(s.len() as u32).to_be_bytes());
        input.extend_from_slice(s.as_bytes());
    }
    input.extend_from_slice(e1.payload_digest.as_bytes());
    input.extend_from_slice(&[0; 32]);
    assert_eq!(hex(&input), HASH_INPUT_1);
    assert_eq!(Digest::sha256(&input), e1.hash);

    let mut tree = MerkleFrontier::new();
    tree.push_entry_hash(&e1.hash);
    tree.push_entry_hash(&e2.hash);
    assert_eq!(tree.root().to_hex(), ROOT_2);
    assert_eq!(key.key_id().as_str(), KEY_ID);
    let t = Timestamp::parse("2025-03-01T12:00:05.000Z").unwrap();
    let cp = key.sign_checkpoint(2, e2.hash, tree.root(), t);
    assert_eq!(
        hex(&checkpoint_message(
            2,
            &e2.hash,
            &tree.root(),
            &t,
            key.key_id()
        )),
        CHECKPOINT_MESSAGE
    );
    assert_eq!(serde_json::to_value(&cp).unwrap()["signature"], SIGNATURE);

    let mut w = ExportWriter::new(
        Vec::new(),
        &ExportHeader::full(vec![key.public_key().to_document()]),
    )
    .unwrap();
    w.entry(&e1).unwrap();
    w.entry(&e2).unwrap();
    w.checkpoint(&cp).unwrap();
    String::from_utf8(w.finish().unwrap()).unwrap()
}

#[test]
fn worked_example_matches_the_independent_computation_and_the_document() {
    let export = example_export();
    let r = verify_reader(
        export.as_bytes(),
        &VerifyOptions {
            trusted_keys: vec![AuditSigningKey::from_pkcs8_pem(KEY_PEM)
                .unwrap()
                .public_key()],
            threads: 1,
        },
    );
    assert!(r.valid, "{:?}", r.problem);
    assert_eq!((r.entries, r.checkpoints), (2, 1));

    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/audit-log.md"
    ))
    .expect("docs/audit-log.md");
    let start = doc
        .find("```jsonl\n")
        .expect("a ```jsonl block in docs/audit-log.md")
        + "```jsonl\n".len();
    let end = start + doc[start..].find("```").unwrap();
    assert_eq!(
        &doc[start..end],
        export,
        "docs/audit-log.md example export is out of date:\n{export}"
    );
    for value in [
        PAYLOAD_1,
        PAYLOAD_DIGEST_1,
        HASH_1,
        HASH_INPUT_1,
        HASH_2,
        ROOT_2,
        KEY_ID,
        SIGNATURE,
        CHECKPOINT_MESSAGE,
    ] {
        assert!(doc.contains(value), "docs/audit-log.md lacks {value}");
    }
}
