import dagster as dg

from orchestration.settings import PARTITIONS_START_DATE

# Raw exports are partitioned by export day (the YYYY-MM-DD in the file name).
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START_DATE)
