//! A look at the binary before it is shipped: it must be an ELF executable, and whether it needs
//! a dynamic loader decides which containers it can run in.

use std::path::Path;

use crate::PackError;

/// How an ELF executable is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfKind {
    /// No program interpreter: runs on any Linux of its architecture (the musl build).
    Static,
    /// Needs the dynamic loader and libc of the container it runs in.
    Dynamic,
}

const PT_INTERP: u32 = 3;

/// Reads the ELF header and program headers of `path`.
pub fn inspect_elf(path: &Path) -> Result<ElfKind, PackError> {
    let bytes = std::fs::read(path).map_err(|e| PackError::io(path, e))?;
    let not_elf = || PackError::NotElf {
        path: path.to_path_buf(),
    };
    // 64-bit little-endian only: the charm is built for amd64.
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return Err(not_elf());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().expect("8 bytes")) as usize;
    let phentsize = u16_at(54) as usize;
    let phnum = u16_at(56) as usize;
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let header = bytes.get(at..at + 4).ok_or_else(not_elf)?;
        if u32::from_le_bytes(header.try_into().expect("4 bytes")) == PT_INTERP {
            return Ok(ElfKind::Dynamic);
        }
    }
    Ok(ElfKind::Static)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_test_binary_is_a_dynamic_elf_and_a_script_is_not_elf() {
        // Test binaries of the gnu target are dynamically linked.
        let me = std::env::current_exe().unwrap();
        if cfg!(all(
            target_os = "linux",
            target_env = "gnu",
            target_arch = "x86_64"
        )) {
            assert_eq!(inspect_elf(&me).unwrap(), ElfKind::Dynamic);
        }
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        assert!(matches!(
            inspect_elf(&script),
            Err(PackError::NotElf { .. })
        ));
    }
}
