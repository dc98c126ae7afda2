//! Tray solutions turned into the widget's integrations.

use marketplace_wire::{self as wire, Integration};

use crate::tray::Solution;

pub fn to_integration(solution: &Solution) -> Integration {
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
            .map(|slot| wire::ConfigSlot {
                external_id: slot.external_id.clone(),
                title: slot.title.clone(),
                default_value: slot.default_value.clone(),
            })
            .collect(),
        instances: Vec::new(),
    }
}
