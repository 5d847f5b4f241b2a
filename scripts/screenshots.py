"""Signs in to a running demo portal in headless Chromium (through
chromedriver) and saves a screenshot of each page at a laptop size and a phone
size. Called by scripts/screenshots; needs `pip install selenium` and Debian's
chromium and chromium-driver.

Usage: python3 scripts/screenshots.py BASE_URL ONE_TIME_PASSWORD OUT_DIR PAGES...
where each page is NAME|PATH.
"""

import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

NEW_PASSWORD = "screenshots only, not a real password"


def main():
    base, one_time, out, pages = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.set_window_size(1366, 900)
        driver.get(base + "/sign-in")
        shot(driver, out, "sign-in-laptop")
        driver.find_element(By.NAME, "username").send_keys("admin")
        driver.find_element(By.NAME, "password").send_keys(one_time)
        driver.find_element(By.CSS_SELECTOR, "#sign-in button").click()
        shot(driver, out, "change-password-laptop")
        driver.find_element(By.NAME, "current").send_keys(one_time)
        driver.find_element(By.NAME, "new").send_keys(NEW_PASSWORD)
        driver.find_element(By.NAME, "repeat").send_keys(NEW_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "#change-password button").click()
        for entry in pages:
            name, path = entry.split("|", 1)
            for size, (width, height) in (("laptop", (1366, 900)), ("phone", (390, 1400))):
                driver.set_window_size(width, height)
                driver.get(base + path)
                shot(driver, out, f"{name}-{size}")
            print(f"{out}/{name}-laptop.png {out}/{name}-phone.png")
        upload_dir = os.environ.get("UPLOAD_DIR")
        if upload_dir:
            driver.set_window_size(1366, 900)
            # A file with a bad row, then a good one: the two result pages.
            for name, file in (("import-error", "users_bad_line3.csv"), ("import-done", "users_more.csv")):
                driver.get(base + "/admin/imports")
                Select(driver.find_element(By.NAME, "kind")).select_by_value("users")
                driver.find_element(By.NAME, "files").send_keys(os.path.join(upload_dir, file))
                driver.find_element(By.CSS_SELECTOR, "#upload button").click()
                shot(driver, out, f"{name}-laptop")
                print(f"{out}/{name}-laptop.png")
    finally:
        driver.quit()


def shot(driver, out, name):
    # The whole page: as tall as its content.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, max(height, 600))
    driver.save_screenshot(f"{out}/{name}.png")


if __name__ == "__main__":
    main()
