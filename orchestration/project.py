from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)
# Under `dagster dev` this runs `dbt parse` so the manifest is always current; elsewhere
# (CLI build, tests, deploys) the manifest is prepared explicitly first.
dbt_project.prepare_if_dev()
