//! The guarded operations of standing swarms: agents join and leave a team's
//! `DISPATCH` or `BACKLOG` swarm themselves (`joinStandingSwarm`,
//! `leaveStandingSwarm`); its members list its queue (`dispatchQueue`, `backlog`),
//! seeing only the cases they may read; `standingSwarms` shows who is in which.

use async_graphql::Result;

use super::reads::{Budget, CasePage};
use super::{forbidden, Guard};
use crate::api::error::{bad_input, gql};
use crate::domain::standing::{StandingKind, StandingSwarm};
use crate::domain::{AgentId, Timestamp};
use crate::policy;
use crate::projection::{AgeKey, CaseView, DispatchKey};

/// Most days `backlog(olderThanDays)` looks back.
pub const MAX_BACKLOG_DAYS: u32 = 3650;

impl Guard {
    /// The caller joins (`join: true`) or leaves `team`'s standing swarm of `kind`;
    /// returns its members after.
    pub async fn change_standing(
        &self,
        team: &str,
        kind: StandingKind,
        join: bool,
    ) -> Result<StandingSwarm> {
        let config = self.app.config();
        let tier = config
            .teams
            .get(team)
            .map(|t| crate::domain::Tier::new(&t.tier))
            .ok_or_else(|| bad_input(format!("unknown team `{team}`")))?;
        policy::can_join_standing(&self.principal, &tier, &config.tiers).map_err(forbidden)?;
        let me = &self.principal.actor;
        if !config.agents.contains_key(&me.id) {
            return Err(bad_input(format!(
                "`{}` is not an agent of the directory",
                me.id
            )));
        }
        self.app
            .change_standing(me, team, kind, join)
            .await
            .map_err(gql)
    }

    /// Every standing swarm with its members, by team then kind (staff).
    pub fn standing_swarms(&self) -> Result<Vec<(String, StandingKind, Vec<AgentId>)>> {
        self.require_staff()?;
        let p = self.app.projections().read();
        Ok(p.standing_swarms()
            .filter(|(_, _, s)| !s.members.is_empty())
            .map(|(t, k, s)| (t.to_string(), k, s.members.iter().cloned().collect()))
            .collect())
    }

    fn require_standing(&self, team: &str, kind: StandingKind) -> Result<()> {
        if !self.app.config().teams.contains_key(team) {
            return Err(bad_input(format!("unknown team `{team}`")));
        }
        let member =
            self.app
                .projections()
                .read()
                .is_standing_member(team, kind, &self.principal.actor.id);
        policy::can_see_standing_queue(&self.principal, member).map_err(forbidden)
    }

    /// `team`'s dispatch queue as the caller may see it: open cases nobody is
    /// assigned, most urgent then oldest first, `first` after the cursor `after`.
    pub async fn dispatch_queue(
        &self,
        team: &str,
        first: usize,
        after: Option<&str>,
        budget: Budget<'_>,
    ) -> Result<CasePage> {
        self.require_standing(team, StandingKind::Dispatch)?;
        let after = after
            .map(|a| DispatchKey::from_cursor(a).ok_or_else(|| bad_input("a bad `after` cursor")))
            .transpose()?;
        let page = {
            let p = self.app.projections().read();
            let entries = p.dispatch_queue(team, after).map(|(k, v)| (k.cursor(), v));
            self.visible_page(entries, first, budget)?
        };
        self.audit_page(&page, "dispatchQueue").await?;
        Ok(page)
    }

    /// `team`'s open cases opened `older_than_days` days ago or earlier, as the caller
    /// may see them, oldest first, `first` after the cursor `after`.
    pub async fn backlog(
        &self,
        team: &str,
        older_than_days: u32,
        first: usize,
        after: Option<&str>,
        budget: Budget<'_>,
    ) -> Result<CasePage> {
        self.require_standing(team, StandingKind::Backlog)?;
        if older_than_days > MAX_BACKLOG_DAYS {
            return Err(bad_input(format!(
                "olderThanDays is at most {MAX_BACKLOG_DAYS}"
            )));
        }
        let after = after
            .map(|a| AgeKey::from_cursor(a).ok_or_else(|| bad_input("a bad `after` cursor")))
            .transpose()?;
        let before = Timestamp(self.now().0 - i64::from(older_than_days) * 86_400_000_000);
        let page = {
            let p = self.app.projections().read();
            let entries = p.backlog(team, before, after).map(|(k, v)| (k.cursor(), v));
            self.visible_page(entries, first, budget)?
        };
        self.audit_page(&page, "backlog").await?;
        Ok(page)
    }

    /// The first `first` of a queue's `entries` that the caller may read, each with
    /// its cursor, and whether more follow: unreadable cases count nowhere.
    fn visible_page<'v>(
        &self,
        entries: impl Iterator<Item = (String, &'v CaseView)>,
        first: usize,
        budget: Budget<'_>,
    ) -> Result<CasePage> {
        let mut visible = entries.filter(|(_, v)| self.can_read(&v.case));
        let cases: Vec<(String, _)> = visible
            .by_ref()
            .take(first)
            .map(|(cursor, v)| (cursor, self.case_obj(v)))
            .collect();
        let more = visible.next().is_some();
        budget(cases.len())?;
        Ok(CasePage { cases, more })
    }

    async fn audit_page(&self, page: &CasePage, what: &str) -> Result<()> {
        let ids: Vec<_> = page
            .cases
            .iter()
            .filter_map(|(_, c)| c.id.parse().ok())
            .collect();
        self.audit_many(ids, what).await
    }
}
