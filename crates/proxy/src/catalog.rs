//! Tray solutions turned into the widget's integrations.

use marketplace_wire::{self as wire, Integration};

use crate::{tray::Solution, Config};

/// The widget's view of `solution`. Settings the host supplies (`SYSTEM_VALUES_FILE`)
/// are the host's: not shown, and never sent to the browser.
pub fn to_integration(solution: &Solution, config: &Config) -> Integration {
    Integration {
        solution_id: solution.id.clone(),
        title: solution.title.clone(),
        description: solution.description.clone(),
        tags: solution.tags.clone(),
        icon_url: solution.custom_field("image").map(str::to_owned),
        force_unique: solution.flag("forceUnique"),
        auto_enable: !solution.flag("disableAutoEnable"),
        auth_slots: solution
            .auth_slots
            .iter()
            .map(|slot| wire::AuthSlot {
                external_id: slot.external_id.clone(),
                title: slot.title.clone(),
            })
            .collect(),
        config_slots: solution
            .config_slots
            .iter()
            .filter(|slot| !config.host_supplies(&solution.id, &slot.external_id))
            .map(|slot| wire::ConfigSlot {
                external_id: slot.external_id.clone(),
                title: slot.title.clone(),
                default_value: slot.default_value.clone(),
            })
            .collect(),
        instances: Vec::new(),
    }
}
