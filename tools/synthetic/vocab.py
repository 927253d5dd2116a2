"""Built-in word lists for the synthetic generator (no external data; all values fake)."""

from __future__ import annotations

FIRST_NAMES = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
    "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra",
    "Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kenneth",
    "Carol", "Kevin", "Amanda", "Brian", "Dorothy", "George", "Melissa", "Timothy", "Deborah", "Luis", "Maria",
    "Carlos", "Rosa", "Tyrone", "Keisha", "Wei", "Mei", "Darnell", "Aaliyah",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson",
    "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Kim", "Patel", "Washington", "Begay",
    "Yazzie", "Tanaka", "Kowalski", "Okafor", "Schmidt", "Murphy",
]
AWKWARD_FIRST_NAMES = ["José", "Zoë", "Łukasz", "Anne-Marie", "Renée", "François", "Ngọc",
                       "Siobhán", "Jean-Luc", "Ægir"]
AWKWARD_LAST_NAMES = ["O'Brien", "Núñez", "Smith-Jones", "D'Angelo", "Müller", "Łódź-Kowalski",
                      "de la Cruz", "St. John", "Nguyễn", "Ó Súilleabháin"]
CITIES = [
    ("Springfield", "IL", "627"), ("Austin", "TX", "787"), ("San Diego", "CA", "921"),
    ("Jacksonville", "FL", "322"), ("Columbus", "OH", "432"), ("Fayetteville", "NC", "283"),
    ("Tacoma", "WA", "984"), ("Colorado Springs", "CO", "809"), ("Norfolk", "VA", "235"),
    ("El Paso", "TX", "799"), ("Killeen", "TX", "765"), ("Clarksville", "TN", "370"),
    ("Anchorage", "AK", "995"), ("Honolulu", "HI", "968"), ("San Juan", "PR", "009"),
    ("Phoenix", "AZ", "850"), ("Atlanta", "GA", "303"), ("Boston", "MA", "021"),
    ("Denver", "CO", "802"), ("Omaha", "NE", "681"),
]
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Elm St", "Washington Blvd",
           "Lake Rd", "Hill St", "Park Ave", "Sunset Blvd", "River Rd", "Veterans Pkwy"]
INTERNATIONAL = [
    ("Germany", "Berlin", "10115"), ("Japan", "Tokyo", "100-0001"), ("Philippines", "Manila", "1000"),
    ("Mexico", "Guadalajara", "44100"), ("United Kingdom", "London", "SW1A 1AA"),
    ("Korea, Republic of", "Seoul", "04524"), ("Canada", "Toronto", "M5V 2T6"),
    ("Italy", "Vicenza", "36100"),
]
MILITARY = [("APO", "AE", "09"), ("FPO", "AP", "96"), ("APO", "AA", "340"), ("DPO", "AE", "09")]
DISABILITIES = [
    ("tinnitus", "3140", 6260), ("hearing loss", "3140", 6100), ("PTSD", "8989", 9411),
    ("lower back strain", "8997", 5237), ("left knee strain", "8997", 5260),
    ("right knee strain", "8997", 5260), ("migraines", "8969", 8100),
    ("sleep apnea", "8960", 6847), ("hypertension", "8968", 7101), ("asthma", "8935", 6602),
    ("plantar fasciitis", "8997", 5276), ("GERD", "8962", 7346),
    ("radiculopathy, left lower extremity", "8964", 8520),
    ("degenerative arthritis of the spine", "8997", 5242), ("traumatic brain injury", "8987", 8045),
    ("right shoulder impingement", "8997", 5201), ("depression", "8989", 9434),
    ("chronic sinusitis", "8935", 6513),
]
SECONDARY = ["depression", "erectile dysfunction", "radiculopathy", "insomnia",
             "left hip strain", "obesity", "anxiety"]
CENTERS = ["VA Medical Center Tampa", "Walter Reed National Military Medical Center",
           "Carl R. Darnall Army Medical Center", "Naval Hospital Camp Pendleton",
           "Brooke Army Medical Center", "Eisenhower Army Medical Center", "Local VA Clinic"]
BRANCHES = ["Army", "Navy", "Air Force", "Marine Corps", "Coast Guard", "Army Reserve",
            "Navy Reserve", "Air National Guard", "Army National Guard"]
BANKS = ["NAVY FEDERAL CREDIT UNION", "USAA FEDERAL SAVINGS BANK", "WELLS FARGO BANK",
         "BANK OF AMERICA", "PENTAGON FEDERAL CREDIT UNION", "JPMORGAN CHASE BANK"]
FLASHES = ["Homeless", "Hardship", "Terminally Ill", "POW", "Amyotrophic Lateral Sclerosis",
           "Priority Processing - Veteran over age 85"]
# Supporting evidence: (original file name, VBMS doc type, true content kind).
# A kind differing from the extension is a misnamed file (vets-api makes a converted version).
UPLOADS: list[tuple[str, str, str]] = [
    ("private_medical_record.pdf", "L451", "pdf"), ("DD214.pdf", "L450", "pdf"),
    ("buddy_statement.pdf", "L015", "pdf"), ("VA_21-4138.pdf", "L014", "pdf"),
    ("audiogram.jpg", "L070", "jpg"), ("MRI results.pdf", "L451", "pdf"),
    ("knee_photo.png", "L014", "png"), ("xray_scan.tiff", "L070", "tiff"),
    ("statement in support.txt", "L023", "txt"), ("scan0001.pdf", "L450", "jpg"),
    ("treatment_notes.jpeg", "L451", "jpg"),
]
WORDS = [
    "pain", "while", "running", "during", "deployment", "the", "veteran", "reports", "constant", "ringing", "and",
    "stiffness", "in", "the", "morning", "after", "ruck", "marches", "treated", "at", "sick", "call", "with",
    "motrin", "and", "rest", "profile", "was", "issued", "for", "several", "weeks", "symptoms", "continued",
    "after", "separation",
]
