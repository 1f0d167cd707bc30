//! C2SP `tlog-tiles`: the log published as static files, so a verifier needs
//! nothing but a file server (https://c2sp.org/tlog-tiles).
//!
//! Tiles have height 8: the level-`L` tile `N` lists up to 256 hashes of
//! complete subtrees of `256^L` leaves, starting at subtree `N * 256`.
//! Paths are `tile/<L>/<N>[.p/<W>]` with `N` in 3-digit groups (`x001/x234/067`);
//! entry bundles are `tile/entries/<N>[.p/<W>]`, each entry prefixed by its
//! 16-bit big-endian length.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::log::{Log, LogError};
use crate::merkle::{Hash, MerkleTree, empty_root, node_hash};

/// Hashes per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u32 = 8;
/// Largest entry an entry bundle can hold.
pub const MAX_BUNDLED_ENTRY: usize = u16::MAX as usize;

/// `N` as 3-digit path elements, all but the last prefixed with `x`.
#[must_use]
pub fn encode_index(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn with_width(base: String, width: u64) -> String {
    if width < TILE_WIDTH {
        format!("{base}.p/{width}")
    } else {
        base
    }
}

/// Path of the level-`level` hash tile `index` holding `width` hashes.
#[must_use]
pub fn tile_path(level: u32, index: u64, width: u64) -> String {
    with_width(format!("tile/{level}/{}", encode_index(index)), width)
}

/// Path of entry bundle `index` holding `width` entries.
#[must_use]
pub fn entries_path(index: u64, width: u64) -> String {
    with_width(format!("tile/entries/{}", encode_index(index)), width)
}

/// Number of complete subtrees of height `8 * level` in a tree of `size` leaves.
fn count_at(level: u32, size: u64) -> u64 {
    size.checked_shr(TILE_HEIGHT * level).unwrap_or(0)
}

/// Every hash tile of a tree of `size` leaves, as `(path, bytes)`.
#[must_use]
pub fn hash_tiles(tree: &MerkleTree, size: u64) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut level = 0;
    loop {
        let count = count_at(level, size);
        if count == 0 {
            break;
        }
        for n in 0..count.div_ceil(TILE_WIDTH) {
            let width = (count - n * TILE_WIDTH).min(TILE_WIDTH);
            let mut bytes = Vec::with_capacity(width as usize * 32);
            for j in 0..width {
                if let Some(h) = tree.complete_subtree(TILE_HEIGHT * level, n * TILE_WIDTH + j) {
                    bytes.extend_from_slice(&h);
                }
            }
            out.push((tile_path(level, n, width), bytes));
        }
        level += 1;
    }
    out
}

/// Why a tree head cannot be recomputed from tiles.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TileError {
    #[error("tile {0} is missing")]
    Missing(String),
    #[error("tile {path} has {got} bytes, expected {want}")]
    Size {
        path: String,
        got: usize,
        want: usize,
    },
}

/// Recomputes the tree head of a `size`-leaf log from its hash tiles, read
/// through `read` (a file system, an HTTP client, a map in tests).
pub fn root_from_tiles(
    size: u64,
    mut read: impl FnMut(&str) -> Option<Vec<u8>>,
) -> Result<Hash, TileError> {
    if size == 0 {
        return Ok(empty_root());
    }
    // Subtree hash of height `h` at leaf `start`, from tiles.
    let mut subtree = |start: u64, h: u32| -> Result<Hash, TileError> {
        let level = h / TILE_HEIGHT;
        let r = h % TILE_HEIGHT;
        let first = start >> (TILE_HEIGHT * level);
        let n = 1u64 << r;
        let count = count_at(level, size);
        let mut hashes = Vec::with_capacity(n as usize);
        let mut cached: Option<(u64, Vec<u8>)> = None;
        for idx in first..first + n {
            let tile = idx / TILE_WIDTH;
            if cached.as_ref().is_none_or(|(t, _)| *t != tile) {
                let width = (count - tile * TILE_WIDTH).min(TILE_WIDTH);
                let path = tile_path(level, tile, width);
                let bytes = read(&path).ok_or_else(|| TileError::Missing(path.clone()))?;
                if bytes.len() != width as usize * 32 {
                    return Err(TileError::Size {
                        path,
                        got: bytes.len(),
                        want: width as usize * 32,
                    });
                }
                cached = Some((tile, bytes));
            }
            let (_, bytes) = cached
                .as_ref()
                .ok_or_else(|| TileError::Missing(String::new()))?;
            let off = ((idx % TILE_WIDTH) * 32) as usize;
            let mut h = [0u8; 32];
            h.copy_from_slice(&bytes[off..off + 32]);
            hashes.push(h);
        }
        while hashes.len() > 1 {
            hashes = hashes
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
        }
        Ok(hashes[0])
    };
    // The complete subtrees of the size's binary decomposition, left to right,
    // folded from the right as RFC 9162's recursion does.
    let mut parts = Vec::new();
    let mut start = 0u64;
    for h in (0..64u32).rev() {
        if size & (1u64 << h) != 0 {
            parts.push(subtree(start, h)?);
            start += 1u64 << h;
        }
    }
    let mut acc = parts.pop().unwrap_or_else(empty_root);
    while let Some(left) = parts.pop() {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_data()?;
    fs::rename(&tmp, path)
}

/// Publishes `log` as tiles under `out`: hash tiles, entry bundles and the
/// signed `checkpoint` (written last, so a reader never sees a checkpoint
/// whose tiles are missing). Returns the number of files written.
pub fn write_tiles(log: &mut Log, out: &Path, checkpoint: &str) -> Result<usize, LogError> {
    let size = log.size();
    let tree = MerkleTree::from_leaf_hashes((0..size).filter_map(|i| log.leaf_hash(i)));
    let mut written = 0;
    for (path, bytes) in hash_tiles(&tree, size) {
        write_atomic(&out.join(path), &bytes)?;
        written += 1;
    }
    for n in 0..size.div_ceil(TILE_WIDTH) {
        let width = (size - n * TILE_WIDTH).min(TILE_WIDTH);
        let mut bundle = Vec::new();
        for i in n * TILE_WIDTH..n * TILE_WIDTH + width {
            let e = log.entry(i)?;
            let len = u16::try_from(e.len()).map_err(|_| {
                LogError::Corrupt(format!(
                    "entry {i} is larger than a tile bundle allows ({MAX_BUNDLED_ENTRY} bytes)"
                ))
            })?;
            bundle.extend_from_slice(&len.to_be_bytes());
            bundle.extend_from_slice(&e);
        }
        write_atomic(&out.join(entries_path(n, width)), &bundle)?;
        written += 1;
    }
    write_atomic(&out.join("checkpoint"), checkpoint.as_bytes())?;
    Ok(written + 1)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::merkle::leaf_hash;

    #[test]
    fn paths_follow_the_spec() {
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(5), "005");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(tile_path(0, 1_234_067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(1, 2, 17), "tile/1/002.p/17");
        assert_eq!(entries_path(0, 3), "tile/entries/000.p/3");
    }

    #[test]
    fn tiles_reproduce_the_tree_head() {
        let mut tree = MerkleTree::new();
        let mut size = 0u64;
        for target in [
            1u64, 2, 3, 255, 256, 257, 511, 1000, 65_535, 65_536, 65_537, 70_001,
        ] {
            while size < target {
                tree.push(leaf_hash(&size.to_le_bytes()));
                size += 1;
            }
            let tiles: HashMap<String, Vec<u8>> = hash_tiles(&tree, size).into_iter().collect();
            let root = root_from_tiles(size, |p| tiles.get(p).cloned()).unwrap();
            assert_eq!(root, tree.root(), "size {size}");
        }
    }

    #[test]
    fn missing_or_short_tiles_are_errors() {
        let mut tree = MerkleTree::new();
        for i in 0..300u64 {
            tree.push(leaf_hash(&i.to_le_bytes()));
        }
        let mut tiles: HashMap<String, Vec<u8>> = hash_tiles(&tree, 300).into_iter().collect();
        let good = tiles.clone();
        tiles.get_mut("tile/0/001.p/44").unwrap().pop();
        assert!(matches!(
            root_from_tiles(300, |p| tiles.get(p).cloned()),
            Err(TileError::Size { .. })
        ));
        // The first 256 leaves are covered by the level-1 tile.
        let mut tiles = good.clone();
        tiles.remove("tile/1/000.p/1");
        assert!(matches!(
            root_from_tiles(300, |p| tiles.get(p).cloned()),
            Err(TileError::Missing(_))
        ));
        // A flipped hash changes the head.
        let mut tiles = good;
        tiles.get_mut("tile/0/001.p/44").unwrap()[0] ^= 1;
        assert_ne!(
            root_from_tiles(300, |p| tiles.get(p).cloned()).unwrap(),
            tree.root()
        );
    }
}
