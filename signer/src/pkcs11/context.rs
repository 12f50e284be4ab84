//! The process's PKCS#11 contexts, one per module, and finding a token in one.
//!
//! PKCS#11 is initialised once per process, and dropping a context finalises the library for
//! everyone, so contexts live in a process-global registry: shared, and kept until exit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::slot::Slot;

use super::{HsmError, TokenSelector};

/// The process's one context for `module`, loaded and initialised on first use.
pub(super) fn context(module: &Path) -> Result<Pkcs11, String> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut contexts = CONTEXTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(ctx) = contexts.get(module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| e.to_string())?;
    initialize(&ctx)?;
    contexts.insert(module.to_owned(), ctx.clone());
    Ok(ctx)
}

/// `C_Initialize` with OS locking; "already initialised" is success.
pub(super) fn initialize(ctx: &Pkcs11) -> Result<(), String> {
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// The slot holding the token `token` selects.
pub(super) fn find_slot(ctx: &Pkcs11, token: &TokenSelector) -> Result<Slot, HsmError> {
    let slots = ctx
        .get_slots_with_initialized_token()
        .map_err(|e| HsmError::from_pkcs11("list slots", &e))?;
    for slot in slots {
        let matches = match token {
            TokenSelector::Slot(id) => slot.id() == *id,
            TokenSelector::Label(label) => ctx
                .get_token_info(slot)
                .map(|info| info.label().trim_end() == label)
                .unwrap_or(false),
        };
        if matches {
            return Ok(slot);
        }
    }
    Err(HsmError::NoToken(match token {
        TokenSelector::Label(l) => format!("labelled {l:?}"),
        TokenSelector::Slot(s) => format!("in slot {s}"),
    }))
}
