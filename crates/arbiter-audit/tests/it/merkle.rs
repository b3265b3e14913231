//! The Merkle tree against the RFC 6962 test vectors published with
//! Certificate Transparency's reference code (transparency-dev/merkle,
//! `proof/verify_test.go`), and property tests for proofs of every shape.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_audit::merkle::{
    empty_root, leaf_hash, root_from_inclusion_proof, verify_consistency, verify_inclusion,
};
use arbiter_audit::{Digest, MerkleFrontier, MerkleTree};
use proptest::prelude::*;

fn d(hex: &str) -> Digest {
    Digest::from_hex(hex).unwrap()
}

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The eight leaves of the vectors.
fn leaves() -> Vec<Digest> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| leaf_hash(&bytes(h)))
    .collect()
}

/// Roots of the trees of the first 1..=8 leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn roots_match_the_rfc6962_vectors() {
    let tree = MerkleTree::from_leaves(leaves());
    let mut frontier = MerkleFrontier::new();
    assert_eq!(frontier.root(), empty_root());
    assert_eq!(
        empty_root(),
        d("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    for (i, leaf) in leaves().into_iter().enumerate() {
        frontier.push(leaf);
        assert_eq!(
            tree.root_at(i as u64 + 1).unwrap(),
            d(ROOTS[i]),
            "size {}",
            i + 1
        );
        assert_eq!(frontier.root(), d(ROOTS[i]), "frontier size {}", i + 1);
    }
}

#[test]
fn inclusion_proofs_match_the_vectors() {
    // (1-based leaf, tree size, proof)
    let vectors: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            3,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            2,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    let tree = MerkleTree::from_leaves(leaves());
    let l = leaves();
    for (leaf, size, proof) in vectors {
        let proof: Vec<Digest> = proof.iter().map(|h| d(h)).collect();
        assert_eq!(
            tree.inclusion_proof(leaf - 1, size).unwrap(),
            proof,
            "{leaf}/{size}"
        );
        let root = d(ROOTS[size as usize - 1]);
        let leaf_h = l[leaf as usize - 1];
        verify_inclusion(&leaf_h, leaf - 1, size, &proof, &root).unwrap();
        // The corruptions the reference tests try must all fail.
        let some = d("abacaba000000000000000000000000000000000000000000060061e00123456");
        assert!(verify_inclusion(&leaf_h, leaf, size, &proof, &root).is_err());
        if leaf > 1 {
            assert!(verify_inclusion(&leaf_h, leaf - 2, size, &proof, &root).is_err());
        }
        assert!(verify_inclusion(&leaf_h, (leaf - 1) ^ 2, size, &proof, &root).is_err());
        assert!(verify_inclusion(&leaf_h, leaf - 1, size * 2, &proof, &root).is_err());
        assert!(verify_inclusion(&leaf_h, leaf - 1, size / 2, &proof, &root).is_err());
        assert!(verify_inclusion(&some, leaf - 1, size, &proof, &root).is_err());
        assert!(verify_inclusion(&leaf_h, leaf - 1, size, &proof, &empty_root()).is_err());
        let mut longer = proof.clone();
        longer.push(root);
        assert!(verify_inclusion(&leaf_h, leaf - 1, size, &longer, &root).is_err());
        let mut prefixed = vec![root];
        prefixed.extend(proof.iter().copied());
        assert!(verify_inclusion(&leaf_h, leaf - 1, size, &prefixed, &root).is_err());
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i].0[0] ^= 8;
            assert!(verify_inclusion(&leaf_h, leaf - 1, size, &bad, &root).is_err());
        }
        if !proof.is_empty() {
            assert!(
                verify_inclusion(&leaf_h, leaf - 1, size, &proof[..proof.len() - 1], &root)
                    .is_err()
            );
        }
    }
}

#[test]
fn consistency_proofs_match_the_vectors() {
    let vectors: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    let tree = MerkleTree::from_leaves(leaves());
    for (m, n, proof) in vectors {
        let proof: Vec<Digest> = proof.iter().map(|h| d(h)).collect();
        assert_eq!(tree.consistency_proof(m, n).unwrap(), proof, "{m}->{n}");
        let (r1, r2) = (d(ROOTS[m as usize - 1]), d(ROOTS[n as usize - 1]));
        verify_consistency(m, n, &r1, &r2, &proof).unwrap();
        if proof.is_empty() {
            continue;
        }
        assert!(verify_consistency(m - 1, n, &r1, &r2, &proof).is_err());
        assert!(verify_consistency(m + 1, n, &r1, &r2, &proof).is_err());
        assert!(verify_consistency(m ^ 2, n, &r1, &r2, &proof).is_err());
        assert!(verify_consistency(m, n * 2, &r1, &r2, &proof).is_err());
        assert!(verify_consistency(m, n / 2, &r1, &r2, &proof).is_err());
        assert!(verify_consistency(m, n, &r2, &r1, &proof).is_err());
        assert!(verify_consistency(m, n, &r1, &r2, &[]).is_err());
        for extra in [r1, r2] {
            let mut longer = proof.clone();
            longer.push(extra);
            assert!(verify_consistency(m, n, &r1, &r2, &longer).is_err());
            let mut prefixed = vec![extra];
            prefixed.extend(proof.iter().copied());
            assert!(verify_consistency(m, n, &r1, &r2, &prefixed).is_err());
        }
        assert!(verify_consistency(m, n, &r1, &r2, &proof[..proof.len() - 1]).is_err());
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i].0[0] ^= 16;
            assert!(verify_consistency(m, n, &r1, &r2, &bad).is_err());
        }
    }
}

#[test]
fn trivial_consistency_cases() {
    let (a, b) = (Digest::sha256(b"a"), Digest::sha256(b"b"));
    assert!(verify_consistency(0, 0, &a, &a, &[]).is_ok());
    assert!(verify_consistency(0, 1, &a, &b, &[]).is_ok());
    assert!(verify_consistency(1, 1, &b, &b, &[]).is_ok());
    assert!(verify_consistency(0, 0, &a, &b, &[]).is_err());
    assert!(verify_consistency(1, 1, &a, &b, &[]).is_err());
    assert!(verify_consistency(1, 0, &a, &b, &[]).is_err());
    assert!(verify_consistency(2, 1, &a, &b, &[]).is_err());
    assert!(verify_consistency(1, 2, &a, &b, &[]).is_err());
    assert!(verify_consistency(0, 1, &a, &a, &[empty_root()]).is_err());
    assert!(verify_consistency(1, 1, &a, &a, &[empty_root()]).is_err());
}

fn arb_leaves(max: usize) -> impl Strategy<Value = Vec<Digest>> {
    prop::collection::vec(any::<[u8; 8]>(), 1..max)
        .prop_map(|v| v.iter().map(|b| leaf_hash(b)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The in-memory tree and the frontier agree with a direct recursive
    /// RFC 6962 root at every size.
    #[test]
    fn roots_agree_with_the_definition(leaves in arb_leaves(300)) {
        fn mth(l: &[Digest]) -> Digest {
            match l.len() {
                0 => empty_root(),
                1 => l[0],
                n => {
                    let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                    arbiter_audit::merkle::node_hash(&mth(&l[..k]), &mth(&l[k..]))
                }
            }
        }
        let tree = MerkleTree::from_leaves(leaves.iter().copied());
        let mut f = MerkleFrontier::new();
        for (i, l) in leaves.iter().enumerate() {
            f.push(*l);
            let want = mth(&leaves[..=i]);
            prop_assert_eq!(f.root(), want);
            prop_assert_eq!(tree.root_at(i as u64 + 1).unwrap(), want);
            let back = MerkleFrontier::from_parts(f.size(), f.nodes().to_vec()).unwrap();
            prop_assert_eq!(back.root(), want);
        }
    }

    /// Every leaf's inclusion proof verifies at every size that holds it,
    /// and fails for any other leaf, index or one-bit change of the proof.
    #[test]
    fn inclusion_proofs_verify(leaves in arb_leaves(70), flip in any::<(usize, u8)>()) {
        let tree = MerkleTree::from_leaves(leaves.iter().copied());
        let n = leaves.len() as u64;
        for size in 1..=n {
            let root = tree.root_at(size).unwrap();
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).unwrap();
                let leaf = leaves[index as usize];
                prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());
                prop_assert_eq!(root_from_inclusion_proof(&leaf, index, size, &proof).unwrap(), root);
                let other = Digest::sha256(&leaf.0);
                prop_assert!(verify_inclusion(&other, index, size, &proof, &root).is_err());
                if size > 1 {
                    let wrong_index = (index + 1) % size;
                    if leaves[wrong_index as usize] != leaf {
                        prop_assert!(verify_inclusion(&leaf, wrong_index, size, &proof, &root).is_err());
                    }
                }
                if !proof.is_empty() {
                    let mut bad = proof.clone();
                    let i = flip.0 % bad.len();
                    bad[i].0[(flip.1 % 32) as usize] ^= 0x40;
                    prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
                }
            }
        }
    }

    /// Consistency proofs verify between every pair of sizes, and fail with
    /// a changed root, a changed hash or a dropped hash.
    #[test]
    fn consistency_proofs_verify(leaves in arb_leaves(70), flip in any::<(usize, u8)>()) {
        let tree = MerkleTree::from_leaves(leaves.iter().copied());
        let n = leaves.len() as u64;
        for new in 1..=n {
            let r2 = tree.root_at(new).unwrap();
            for old in 1..=new {
                let r1 = tree.root_at(old).unwrap();
                let proof = tree.consistency_proof(old, new).unwrap();
                prop_assert!(verify_consistency(old, new, &r1, &r2, &proof).is_ok(), "{}->{}", old, new);
                if old == new {
                    prop_assert!(proof.is_empty());
                    continue;
                }
                let fake = Digest::sha256(&r1.0);
                prop_assert!(verify_consistency(old, new, &fake, &r2, &proof).is_err());
                prop_assert!(verify_consistency(old, new, &r1, &fake, &proof).is_err());
                let mut bad = proof.clone();
                let i = flip.0 % bad.len();
                bad[i].0[(flip.1 % 32) as usize] ^= 0x40;
                prop_assert!(verify_consistency(old, new, &r1, &r2, &bad).is_err());
                prop_assert!(verify_consistency(old, new, &r1, &r2, &proof[1..]).is_err());
            }
        }
    }
}
