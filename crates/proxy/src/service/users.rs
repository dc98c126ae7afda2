//! Host users and their Tray users: the mapping (recovered when Tray no longer holds
//! it) and user tokens, cached in memory.

use super::*;

/// Tray's user tokens live 2 days; renew well before.
const USER_TOKEN_REUSE: Duration = Duration::from_secs(24 * 60 * 60);

impl Marketplace {
    /// Tray user from our database (created on the first visit), plus a cached user token.
    pub async fn session(&self, user: &HostUser) -> Result<Session, ProxyError> {
        let stored = match self.db.tray_user_id(&user.id).await? {
            Some(id) => id,
            None => self.create_user(user).await?,
        };
        let (tray_user_id, token) = match self.user_token(&stored).await {
            Ok(token) => (stored, token),
            Err(ProxyError::TrayRejected(reason)) => {
                self.recover_user(user, &stored, reason).await?
            }
            Err(err) => return Err(err),
        };
        Ok(Session {
            external_user_id: user.id.clone(),
            tray_user_id,
            token,
        })
    }

    /// `authorize` refused the stored Tray user: ask Tray who the user is before touching
    /// the mapping (a refusal alone does not prove the user is gone).
    async fn recover_user(
        &self,
        user: &HostUser,
        stored: &str,
        reason: String,
    ) -> Result<(String, String), ProxyError> {
        let id = match self.tray.find_user(&user.id).await? {
            // Tray still knows the user as stored: the refusal was about something else.
            Some(found) if found == stored => return Err(ProxyError::TrayRejected(reason)),
            Some(found) => {
                tracing::warn!(%reason, "Tray holds another user for this external id; remapping");
                self.db.remap_user(&user.id, stored, &found).await?;
                // Another replica may have remapped first; the database decides.
                self.db
                    .tray_user_id(&user.id)
                    .await?
                    .ok_or_else(|| ProxyError::Database("the user mapping vanished".into()))?
            }
            None => {
                tracing::warn!(%reason, "Tray no longer knows the stored user; creating it again");
                self.db.forget_user(&user.id, stored).await?;
                self.create_user(user).await?
            }
        };
        let token = self.user_token(&id).await?;
        Ok((id, token))
    }

    async fn create_user(&self, user: &HostUser) -> Result<String, ProxyError> {
        let tray_user_id = match self.tray.create_external_user(&user.id, &user.name).await {
            Ok(id) => id,
            // Created before, but our database lost the mapping (or another replica won).
            Err(ProxyError::TrayRejected(_)) => {
                self.tray.find_user(&user.id).await?.ok_or_else(|| {
                    ProxyError::TrayRejected("Tray refused to create the user".into())
                })?
            }
            Err(err) => return Err(err),
        };
        self.db
            .insert_user(&user.id, &tray_user_id, &user.name)
            .await?;
        // Another replica may have stored its mapping first; the database decides.
        self.db
            .tray_user_id(&user.id)
            .await?
            .ok_or_else(|| ProxyError::Database("the user mapping vanished".into()))
    }

    /// Forget a user token Tray refused, so the next session mints a new one.
    pub async fn drop_user_token(&self, tray_user_id: &str) -> Result<(), ProxyError> {
        self.user_tokens.lock().await.remove(tray_user_id);
        Ok(())
    }

    /// A cached token inside its reuse window, else a fresh `authorize`.
    ///
    /// Tokens live in memory only (per replica): a database copy would be a secret at
    /// rest, and minting one again after a restart costs a single Tray request.
    pub(super) async fn user_token(&self, tray_user_id: &str) -> Result<String, ProxyError> {
        if let Some((token, renew_after)) = self.user_tokens.lock().await.get(tray_user_id) {
            if now_ms() < *renew_after {
                return Ok(token.clone());
            }
        }
        // Minted without holding the lock, so users never wait for each other's
        // authorize; two concurrent first requests may mint two valid tokens.
        let token = self.tray.authorize(tray_user_id).await?;
        let now = now_ms();
        let renew_after = now + USER_TOKEN_REUSE.as_millis() as i64;
        let mut tokens = self.user_tokens.lock().await;
        // Tokens past their reuse are never handed out again: dropped here, so the map
        // holds the users of the last day, not of the process's lifetime.
        tokens.retain(|_, (_, renew)| *renew > now);
        tokens.insert(tray_user_id.to_owned(), (token.clone(), renew_after));
        Ok(token)
    }
}
