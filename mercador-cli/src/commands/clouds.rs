//! `mercador clouds-yaml [--write]`: the `clouds.yaml` regions of every
//! vregion bound on the user's cloud, for the `mercador-k2k` keystoneauth1
//! plugin of the Python package `mercador`.
//!
//! For each service provider `mercador-<alias>` in the cloud's token (the
//! subscriber service names them so), it logs in there by K2K, takes the
//! project the federated user reaches (the one named as the home project,
//! else the first) and the region of B whose endpoints the home catalog
//! shows under `<alias>`, and makes one `regions:` entry whose `values`
//! choose the plugin:
//!
//! ```yaml
//! clouds:
//!   mycloud:
//!     regions:
//!     - RegionOne
//!     - name: lisbon-b
//!       values:
//!         auth_type: mercador-k2k
//!         auth:
//!           mercador_service_provider: mercador-lisbon-b
//!           mercador_region_alias: lisbon-b
//!           mercador_project_id: 0f3c...
//!           mercador_remote_region: RegionTwo
//! ```
//!
//! A service provider that refuses the K2K login is left out with a note on
//! standard error (the command fails only when every one does).
//!
//! The cloud's own regions are kept as they are (its `region_name`, or
//! `RegionOne`, when it lists none: openstacksdk then accepts only listed
//! regions). Without `--write` the cloud's `regions:` is printed; with it,
//! it is merged into the `clouds.yaml` holding the cloud (a `.bak` copy is
//! kept; YAML comments are not preserved). The user never types B's
//! service provider, project or domain names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use clap::Args;
use mercador_core::k2k::MultiCloud;
use mercador_core::keystone::Catalog;
use mercador_core::keystone::config::CloudSettings;
use serde_yaml_ng::{Mapping, Value as Yaml};

use super::Context;
use crate::error::{CliError, CliResult};
use crate::output::Output;

/// The prefix of the service providers the subscriber service creates.
const PREFIX: &str = "mercador-";

/// `mercador clouds-yaml`.
#[derive(Debug, Args)]
pub(crate) struct CloudsYamlArgs {
    /// Merge the regions into the clouds.yaml holding the cloud (a .bak copy is kept),
    /// instead of printing them.
    #[arg(long)]
    pub(crate) write: bool,
}

fn regions_of(catalog: &Catalog) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for service in &catalog.services {
        for endpoint in &service.endpoints {
            if let Some(region) = endpoint.region() {
                out.entry(region.to_owned()).or_default().insert(endpoint.url.as_str().trim_end_matches('/').into());
            }
        }
    }
    out
}

/// B's region whose endpoints the home catalog shows under the alias (the
/// one sharing most URLs; B's only region when none does).
fn remote_region(home: &BTreeSet<String>, remote: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    let best = remote.iter().map(|(region, urls)| (urls.intersection(home).count(), region)).max();
    match best {
        Some((n, region)) if n > 0 => Some(region.clone()),
        _ if remote.len() == 1 => remote.keys().next().cloned(),
        _ => None,
    }
}

fn entry(alias: &str, sp: &str, project_id: Option<&str>, remote: Option<&str>) -> Yaml {
    let mut auth = Mapping::new();
    auth.insert("mercador_service_provider".into(), sp.into());
    auth.insert("mercador_region_alias".into(), alias.into());
    if let Some(project) = project_id {
        auth.insert("mercador_project_id".into(), project.into());
    }
    if let Some(region) = remote {
        auth.insert("mercador_remote_region".into(), region.into());
    }
    let mut values = Mapping::new();
    values.insert("auth_type".into(), "mercador-k2k".into());
    values.insert("auth".into(), Yaml::Mapping(auth));
    let mut region = Mapping::new();
    region.insert("name".into(), alias.into());
    region.insert("values".into(), Yaml::Mapping(values));
    Yaml::Mapping(region)
}

/// The cloud's `regions:` with `entries` replacing earlier vregion entries.
fn merged_regions(cloud: &Yaml, entries: Vec<Yaml>) -> Vec<Yaml> {
    let aliases: BTreeSet<&str> = entries.iter().filter_map(|e| e.get("name").and_then(Yaml::as_str)).collect();
    let mut own: Vec<Yaml> = cloud
        .get("regions")
        .and_then(Yaml::as_sequence)
        .map(|regions| {
            regions
                .iter()
                .filter(|r| {
                    let name = r.as_str().or_else(|| r.get("name").and_then(Yaml::as_str)).unwrap_or_default();
                    let plugin = r.get("values").and_then(|v| v.get("auth_type")).and_then(Yaml::as_str);
                    !aliases.contains(name) && plugin != Some("mercador-k2k")
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if own.is_empty() {
        own.push(cloud.get("region_name").and_then(Yaml::as_str).unwrap_or("RegionOne").into());
    }
    own.extend(entries);
    own
}

fn write(path: &Path, name: &str, regions: Vec<Yaml>) -> CliResult<()> {
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::generic(format!("cannot read {}: {e}", path.display())))?;
    let mut doc: Yaml = serde_yaml_ng::from_str(&text)
        .map_err(|e| CliError::usage(format!("{}: invalid YAML: {e}", path.display())))?;
    let cloud = doc
        .get_mut("clouds")
        .and_then(|c| c.get_mut(name))
        .and_then(Yaml::as_mapping_mut)
        .ok_or_else(|| CliError::usage(format!("{}: no cloud {name:?} to add the regions to", path.display())))?;
    cloud.insert("regions".into(), Yaml::Sequence(regions));
    let out = serde_yaml_ng::to_string(&doc).map_err(|e| CliError::generic(format!("cannot write YAML: {e}")))?;
    let backup = path.with_file_name(format!("{}.bak", path.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::copy(path, &backup).map_err(|e| CliError::generic(format!("cannot copy to {}: {e}", backup.display())))?;
    let tmp = path.with_file_name(format!("{}.tmp", path.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::write(&tmp, out).map_err(|e| CliError::generic(format!("cannot write {}: {e}", tmp.display())))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions()); // keep mode 600 of a file with passwords
    }
    std::fs::rename(&tmp, path).map_err(|e| CliError::generic(format!("cannot replace {}: {e}", path.display())))
}

/// Runs `clouds-yaml`.
pub(crate) async fn clouds_yaml(ctx: &Context, args: CloudsYamlArgs) -> CliResult<Output> {
    let name = ctx.auth.cloud_name().ok_or_else(|| {
        CliError::usage("clouds-yaml works on a cloud of clouds.yaml: pass --os-cloud NAME or set OS_CLOUD")
    })?;
    let settings = CloudSettings::from_clouds_yaml(&name, None)?;
    let path = settings.file().map(Path::to_path_buf);
    let multi = MultiCloud::new(ctx.session()?);
    let home = regions_of(multi.home().token().await?.catalog());
    let mut entries = Vec::new();
    let mut failures = Vec::new();
    for sp in multi.service_providers().await? {
        let Some(alias) = sp.id.strip_prefix(PREFIX) else { continue };
        let token = match multi.default_session(&sp.id).await {
            Ok(session) => session.token().await,
            Err(e) => Err(e),
        };
        // A service provider that refuses (a binding being torn down, a stale
        // one) is left out with a note; the others are still written.
        let token = match token {
            Ok(token) => token,
            Err(e) => {
                let e = CliError::from(e).context(format!("service provider {}: left out", sp.id));
                eprintln!("mercador: {e}");
                failures.push(e);
                continue;
            }
        };
        let remote = remote_region(&home.get(alias).cloned().unwrap_or_default(), &regions_of(token.catalog()));
        let project = token.project.as_ref().map(|p| p.id.as_str());
        entries.push(entry(alias, &sp.id, project, remote.as_deref()));
    }
    if entries.is_empty() {
        if let Some(first) = failures.into_iter().next() {
            return Err(first); // nothing to write, and why
        }
    }
    let text = path
        .as_deref()
        .map(std::fs::read_to_string)
        .transpose()
        .map_err(|e| CliError::generic(format!("cannot read clouds.yaml: {e}")))?
        .unwrap_or_default();
    let doc: Yaml = serde_yaml_ng::from_str(&text).unwrap_or(Yaml::Null);
    let cloud = doc.get("clouds").and_then(|c| c.get(&name)).cloned().unwrap_or(Yaml::Null);
    let aliases: Vec<String> =
        entries.iter().filter_map(|e| e.get("name").and_then(Yaml::as_str).map(str::to_owned)).collect();
    let regions = merged_regions(&cloud, entries);
    if args.write {
        let path = path.ok_or_else(|| CliError::usage("no clouds.yaml file holds this cloud"))?;
        write(&path, &name, regions)?;
        eprintln!(
            "{}: cloud {name}: vregion regions {} (previous file: {}.bak; YAML comments are not kept)",
            path.display(),
            if aliases.is_empty() { "none".to_owned() } else { aliases.join(", ") },
            path.display()
        );
        return Ok(Output::Nothing);
    }
    let mut cloud = Mapping::new();
    cloud.insert("regions".into(), Yaml::Sequence(regions));
    let mut clouds = Mapping::new();
    clouds.insert(name.as_str().into(), Yaml::Mapping(cloud));
    let mut doc = Mapping::new();
    doc.insert("clouds".into(), Yaml::Mapping(clouds));
    let text = serde_yaml_ng::to_string(&Yaml::Mapping(doc))
        .map_err(|e| CliError::generic(format!("cannot write YAML: {e}")))?;
    Ok(Output::Text(text.trim_end().to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn regions_are_merged_and_replaced() {
        let cloud: Yaml = serde_yaml_ng::from_str(
            "region_name: RegionOne\nregions:\n- RegionOne\n- name: old\n  values: {auth_type: mercador-k2k}\n- name: other\n",
        )
        .unwrap();
        let regions =
            merged_regions(&cloud, vec![entry("lisbon-b", "mercador-lisbon-b", Some("p1"), Some("RegionTwo"))]);
        let names: Vec<&str> =
            regions.iter().map(|r| r.as_str().or_else(|| r.get("name").and_then(Yaml::as_str)).unwrap()).collect();
        assert_eq!(names, ["RegionOne", "other", "lisbon-b"]);
        let bare: Yaml = serde_yaml_ng::from_str("region_name: R1").unwrap();
        assert_eq!(merged_regions(&bare, Vec::new()), vec![Yaml::from("R1")]);
    }

    #[test]
    fn the_remote_region_shares_urls_with_the_alias() {
        let home: BTreeSet<String> = ["http://b/compute".into()].into();
        let mut remote = BTreeMap::new();
        remote.insert("R2".to_owned(), BTreeSet::from(["http://b/compute".to_owned()]));
        remote.insert("R3".to_owned(), BTreeSet::from(["http://c/compute".to_owned()]));
        assert_eq!(remote_region(&home, &remote).as_deref(), Some("R2"));
        assert_eq!(remote_region(&BTreeSet::new(), &remote), None);
        remote.remove("R3");
        assert_eq!(remote_region(&BTreeSet::new(), &remote).as_deref(), Some("R2"));
    }
}
