//! The RFC 6962 (Certificate Transparency) Merkle tree over entry hashes:
//! tree heads, inclusion and consistency proofs, and their verification
//! (the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2).
//!
//! - leaf hash: `SHA-256(0x00 || leaf data)`; the leaf data of entry `seq` is
//!   its 32-byte entry hash, and it is leaf index `seq - 1`;
//! - node hash: `SHA-256(0x01 || left || right)`;
//! - the root of `n > 1` leaves splits them at the largest power of two
//!   below `n`; the root of no leaves is `SHA-256("")`.

use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Digest {
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(data);
    Digest(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut h = sha2::Sha256::new();
    h.update([1u8]);
    h.update(left.as_bytes());
    h.update(right.as_bytes());
    Digest(h.finalize().into())
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Digest {
    Digest::sha256(b"")
}

/// Why a proof cannot be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// Index or sizes outside the tree.
    #[error("{0}")]
    OutOfRange(String),
    /// The proof has the wrong number of hashes for these sizes.
    #[error("proof has {got} hashes, {expected} expected for these sizes")]
    WrongLength {
        /// Hashes given.
        got: usize,
        /// Hashes the sizes call for.
        expected: usize,
    },
    /// The proof does not lead to the given root(s).
    #[error("{0}")]
    Mismatch(&'static str),
    /// A frontier whose node count does not fit its size.
    #[error("a tree state of size {size} has {expected} nodes, got {got}")]
    BadFrontier {
        /// Declared size.
        size: u64,
        /// popcount(size).
        expected: usize,
        /// Nodes given.
        got: usize,
    },
}

/// The compact state of a tree: the roots of its perfect subtrees, largest
/// (leftmost) first — one per set bit of the size. Enough to append leaves
/// and compute the root in O(log n) memory: the server keeps one to sign
/// checkpoints without rereading the log, and a partial export carries the
/// state before its first entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "FrontierParts")]
pub struct MerkleFrontier {
    size: u64,
    nodes: Vec<Digest>,
}

/// The JSON form of a frontier, checked by `from_parts` when read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontierParts {
    size: u64,
    nodes: Vec<Digest>,
}

impl TryFrom<FrontierParts> for MerkleFrontier {
    type Error = MerkleError;
    fn try_from(p: FrontierParts) -> Result<Self, Self::Error> {
        MerkleFrontier::from_parts(p.size, p.nodes)
    }
}

impl MerkleFrontier {
    /// The empty tree.
    pub fn new() -> MerkleFrontier {
        MerkleFrontier::default()
    }

    /// A state from its parts; fails unless there is exactly one node per
    /// set bit of `size`.
    pub fn from_parts(size: u64, nodes: Vec<Digest>) -> Result<MerkleFrontier, MerkleError> {
        let expected = size.count_ones() as usize;
        if nodes.len() != expected {
            return Err(MerkleError::BadFrontier {
                size,
                expected,
                got: nodes.len(),
            });
        }
        Ok(MerkleFrontier { size, nodes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, leftmost first.
    pub fn nodes(&self) -> &[Digest] {
        &self.nodes
    }

    /// Appends a leaf given its leaf hash ([`leaf_hash`]).
    pub fn push(&mut self, leaf: Digest) {
        let mut h = leaf;
        let mut s = self.size;
        // Merge equal-sized subtrees like a binary counter's carries.
        while s & 1 == 1 {
            let Some(left) = self.nodes.pop() else { break };
            h = node_hash(&left, &h);
            s >>= 1;
        }
        self.nodes.push(h);
        self.size += 1;
    }

    /// Appends the leaf of an entry hash.
    pub fn push_entry_hash(&mut self, entry_hash: &Digest) {
        self.push(leaf_hash(entry_hash.as_bytes()));
    }

    /// The tree head: RFC 6962 root of all leaves so far.
    pub fn root(&self) -> Digest {
        let mut iter = self.nodes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// A whole tree kept in memory (every level, about 2 × 32 bytes per leaf):
/// roots of any earlier size and proofs in O(log² n) hashing.
#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    /// levels[k][i] = root of the perfect subtree of leaves i·2^k .. (i+1)·2^k.
    levels: Vec<Vec<Digest>>,
}

impl MerkleTree {
    /// The empty tree.
    pub fn new() -> MerkleTree {
        MerkleTree::default()
    }

    /// A tree of these leaf hashes.
    pub fn from_leaves(leaves: impl IntoIterator<Item = Digest>) -> MerkleTree {
        let mut t = MerkleTree::new();
        for l in leaves {
            t.push(l);
        }
        t
    }

    /// Appends a leaf given its leaf hash.
    pub fn push(&mut self, leaf: Digest) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut k = 0;
        while self.levels[k].len().is_multiple_of(2) {
            let n = self.levels[k].len();
            let parent = node_hash(&self.levels[k][n - 2], &self.levels[k][n - 1]);
            if self.levels.len() == k + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[k + 1].push(parent);
            k += 1;
        }
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: u64) -> Option<Digest> {
        self.levels
            .first()?
            .get(usize::try_from(index).ok()?)
            .copied()
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Digest, MerkleError> {
        if size > self.len() {
            return Err(MerkleError::OutOfRange(format!(
                "tree size {size} is larger than the tree ({} leaves)",
                self.len()
            )));
        }
        if size == 0 {
            return Ok(empty_root());
        }
        Ok(self.subtree(0, size))
    }

    /// The root of all leaves.
    pub fn root(&self) -> Digest {
        self.root_at(self.len()).unwrap_or_else(|_| empty_root())
    }

    /// Root of leaves start..start+size, where start is a multiple of the
    /// smallest power of two >= size (true of every range the RFC 6962
    /// recursion visits), so a power-of-two range is a stored node.
    fn subtree(&self, start: u64, size: u64) -> Digest {
        if size.is_power_of_two() {
            let k = size.trailing_zeros() as usize;
            return self.levels[k][(start >> k) as usize];
        }
        let split = split_point(size);
        node_hash(
            &self.subtree(start, split),
            &self.subtree(start + split, size - split),
        )
    }

    /// The audit path of leaf `index` in the tree of the first `size`
    /// leaves (RFC 6962 §2.1.1 PATH).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Digest>, MerkleError> {
        if size > self.len() || index >= size {
            return Err(MerkleError::OutOfRange(format!(
                "no leaf {index} in a tree of size {size} (the tree has {} leaves)",
                self.len()
            )));
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: u64, start: u64, n: u64, out: &mut Vec<Digest>) {
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.subtree(start + k, n - k));
        } else {
            self.path(m - k, start + k, n - k, out);
            out.push(self.subtree(start, k));
        }
    }

    /// The proof that the tree of the first `old_size` leaves is a prefix of
    /// the tree of the first `new_size` (RFC 6962 §2.1.2 PROOF).
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Digest>, MerkleError> {
        if new_size > self.len() || old_size > new_size {
            return Err(MerkleError::OutOfRange(format!(
                "no consistency proof from size {old_size} to {new_size} (the tree has {} leaves)",
                self.len()
            )));
        }
        let mut proof = Vec::new();
        if old_size > 0 && old_size < new_size {
            self.subproof(old_size, 0, new_size, true, &mut proof);
        }
        Ok(proof)
    }

    fn subproof(&self, m: u64, start: u64, n: u64, whole: bool, out: &mut Vec<Digest>) {
        if m == n {
            if !whole {
                out.push(self.subtree(start, n));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, k, whole, out);
            out.push(self.subtree(start + k, n - k));
        } else {
            self.subproof(m - k, start + k, n - k, false, out);
            out.push(self.subtree(start, k));
        }
    }
}

/// The largest power of two strictly below `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The root that an inclusion proof leads to (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof(
    leaf: &Digest,
    index: u64,
    size: u64,
    proof: &[Digest],
) -> Result<Digest, MerkleError> {
    if index >= size {
        return Err(MerkleError::OutOfRange(format!(
            "leaf index {index} is not below tree size {size}"
        )));
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(MerkleError::WrongLength {
            got: proof.len(),
            expected,
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(MerkleError::Mismatch("inclusion proof is too long"));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(MerkleError::Mismatch("inclusion proof is too short"));
    }
    Ok(r)
}

/// Number of hashes in the inclusion proof of `index` in a tree of `size`.
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    // Inner part: the levels where index and size-1 differ; border part: the
    // set bits of index above them (RFC 9162's proof decomposition).
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// Checks that `leaf` (a leaf hash) is leaf `index` of the tree of `size`
/// leaves whose root is `root`.
pub fn verify_inclusion(
    leaf: &Digest,
    index: u64,
    size: u64,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), MerkleError> {
    if root_from_inclusion_proof(leaf, index, size, proof)? != *root {
        return Err(MerkleError::Mismatch(
            "inclusion proof leads to a different root",
        ));
    }
    Ok(())
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a
/// prefix of the tree of `new_size` leaves with root `new_root`
/// (RFC 9162 §2.1.4.2). A tree of size 0 is a prefix of every tree.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
) -> Result<(), MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::OutOfRange(format!(
            "old tree size {old_size} is larger than new size {new_size}"
        )));
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(MerkleError::WrongLength {
                got: proof.len(),
                expected: 0,
            });
        }
        if old_root != new_root {
            return Err(MerkleError::Mismatch("equal sizes but different roots"));
        }
        return Ok(());
    }
    if old_size == 0 {
        if !proof.is_empty() {
            return Err(MerkleError::WrongLength {
                got: proof.len(),
                expected: 0,
            });
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(MerkleError::WrongLength {
            got: 0,
            expected: 1,
        });
    }
    // Steps of RFC 9162 §2.1.4.2.
    let mut path: Vec<Digest> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(MerkleError::Mismatch("consistency proof is too long"));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(MerkleError::Mismatch("consistency proof is too short"));
    }
    if fr != *old_root {
        return Err(MerkleError::Mismatch(
            "consistency proof does not lead to the old root",
        ));
    }
    if sr != *new_root {
        return Err(MerkleError::Mismatch(
            "consistency proof does not lead to the new root",
        ));
    }
    Ok(())
}
